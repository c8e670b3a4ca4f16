// `fishnet flounder FILE.if`: compile a Flounder interface and print the TypeScript;
// with --check, only check it. Diagnostics go to stderr as file:line:column.
import { readFile } from 'node:fs/promises';
import { compileInterface, DEFAULT_RUNTIME_IMPORT, formatDiagnostics } from '../../tools/flounder/compile.ts';
import type { Command } from '../cli.ts';
import { guarded, parseFlags, UsageError } from '../flags.ts';

export const flounder: Command = {
  summary: 'compile a Flounder .if interface into TypeScript bindings',
  usage: [
    'usage: fishnet flounder [--check] [--runtime SPECIFIER] FILE.if',
    '',
    'options:',
    '  --check             only check the file; exit 1 with diagnostics if it is bad',
    `  --runtime SPEC      where the generated code imports the binding runtime (default ${DEFAULT_RUNTIME_IMPORT})`,
  ].join('\n'),
  run: (args) => guarded('flounder', () => compile(args)),
};

async function compile(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    args,
    { check: { type: 'boolean' }, runtime: { type: 'string' } },
    true,
  );
  if (positionals.length !== 1) throw new UsageError('give exactly one .if file');
  const file = positionals[0]!;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    console.error(
      `fishnet flounder: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
    return 2;
  }
  const r = compileInterface(file, text, { runtimeImport: values.runtime, generate: !values.check });
  if (r.diagnostics.length) {
    console.error(formatDiagnostics(r.diagnostics));
    return 1;
  }
  if (values.check) {
    const m = r.model!;
    console.log(`${file}: interface ${m.name}, ${m.messages.length} messages, wire hash ${m.hash}: ok`);
  } else process.stdout.write(r.code!);
  return 0;
}
