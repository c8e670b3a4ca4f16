// `fishnet filter compile EXPR` and `fishnet filter run EXPR FILE.pcap`.
import { availableParallelism } from 'node:os';
import {
  type CompiledFilter,
  compileFilter,
  decompile,
  disassemble,
  FilterError,
  instructions,
  prepare,
  toHex,
} from '../../lib/bfdmux/index.ts';
import { CaptureError, type FilterRun, runCapture, sliceCapture } from '../../lib/bfdmux/pcap-filter.ts';
import { ModuleLoader } from '../../runtime/loader.ts';
import type { Command } from '../cli.ts';
import { guarded, intFlag, parseFlags, UsageError } from '../flags.ts';

/** Captures larger than this are filtered over a pool of threads. */
const PARALLEL_BYTES = 64 << 20;

const usage = [
  'usage: fishnet filter compile [--json] [--no-optimise] EXPR',
  '       fishnet filter run [--json] [--threads N] EXPR FILE.pcap',
  '',
  'compile  print the bytecode in hex and a listing (like tcpdump -d)',
  '         --json: {"bytecode": "<hex>", "lastByteRead": N}',
  'run      count the frames of a capture that the filter matches',
  '         --json: {"frames": N, "matched": M, "matches": [1-based frame numbers]}',
  `         --threads N: filter over N threads (default: one, or all cores for captures over ${PARALLEL_BYTES >> 20} MiB)`,
].join('\n');

export const filter: Command = {
  summary: 'compile a filter expression, or run one over a pcap file',
  usage,
  run: (args) =>
    guarded('filter', async () => {
      const [sub, ...rest] = args;
      const { values, positionals } = parseFlags(
        rest,
        { json: { type: 'boolean' }, 'no-optimise': { type: 'boolean' }, threads: { type: 'string' } },
        true,
      );
      if (sub === 'compile' && positionals.length === 1) return compile(positionals[0]!, values);
      if (sub === 'run' && positionals.length === 2) return run(positionals[0]!, positionals[1]!, values);
      throw new UsageError(
        sub === 'compile' || sub === 'run'
          ? `'${sub}' needs ${sub === 'run' ? 'an expression and a file' : 'one expression'}`
          : sub
            ? `unknown subcommand '${sub}' (compile or run)`
            : 'compile or run?',
      );
    }),
};

function compiled(expr: string, optimise: boolean): CompiledFilter | undefined {
  try {
    return compileFilter(expr, { optimise });
  } catch (e) {
    if (e instanceof FilterError) {
      console.error(e.format());
      return undefined;
    }
    throw e;
  }
}

function compile(expr: string, values: { json?: boolean; 'no-optimise'?: boolean }): number {
  const f = compiled(expr, !values['no-optimise']);
  if (!f) return 1;
  const last = Number.isFinite(f.lastByteRead) ? f.lastByteRead : null;
  if (values.json) {
    console.log(JSON.stringify({ bytecode: toHex(f.code), lastByteRead: last }));
    return 0;
  }
  console.log(`expression     ${decompile(f.program.root)}`);
  console.log(`bytecode       ${toHex(f.code)} (${f.code.length} bytes)`);
  console.log(`lastByteRead   ${last ?? 'unbounded (a load at a computed offset)'}`);
  console.log(`arithmetic     ${f.program.narrow ? 'exact on numbers' : '64-bit (BigInt)'}`);
  console.log('');
  for (const line of disassemble(f.program.root, f.code)) console.log(line);
  console.log('');
  console.log('VM instructions:');
  for (const line of instructions(prepare(f.program))) console.log(`  ${line}`);
  return 0;
}

async function run(
  expr: string,
  file: string,
  values: { json?: boolean; threads?: string },
): Promise<number> {
  const f = compiled(expr, true);
  if (!f) return 1;
  let threads = intFlag('threads', values.threads, 1, 64) ?? 1;
  let result: FilterRun;
  try {
    const { statSync } = await import('node:fs');
    const size = statSync(file).size;
    if (values.threads === undefined && size > PARALLEL_BYTES) threads = availableParallelism();
    result = threads > 1 ? await pooled(f.code, file, threads) : runCapture(f.code, file);
  } catch (e) {
    if (e instanceof CaptureError) {
      console.error(`fishnet filter: ${e.message}`);
      return 1;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') {
      console.error(`fishnet filter: cannot read ${file}: ${code}`);
      return 2;
    }
    throw e;
  }
  if (values.json) console.log(JSON.stringify(result));
  else console.log(`${result.matched} of ${result.frames} frames match`);
  return 0;
}

async function pooled(code: Uint8Array, file: string, threads: number): Promise<FilterRun> {
  const { Piscina } = await import('piscina');
  // A worker pool needs a JavaScript entry: the task module, bundled as the runtime bundles actors.
  const filename = await new ModuleLoader().standalone(
    new URL('../../lib/bfdmux/pcap-worker.ts', import.meta.url),
  );
  const { frames, slices } = sliceCapture(file, threads * 4);
  const pool = new Piscina({ filename, minThreads: threads, maxThreads: threads });
  try {
    const parts = await Promise.all(slices.map((slice) => pool.run({ code, slice }) as Promise<number[]>));
    const matches = parts.flat();
    return { frames, matched: matches.length, matches };
  } finally {
    await pool.destroy();
  }
}
