// The formatter, linter and type checker run as tests, so that CI counts them.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);
const root = new URL('..', import.meta.url).pathname;

async function passes(cmd: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    await run(cmd, args, { cwd: root, maxBuffer: 16 << 20 });
    return { ok: true, output: '' };
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string };
    return { ok: false, output: `${x.stdout ?? ''}${x.stderr ?? ''}` };
  }
}

test('biome: formatting and lint rules hold (npm run format fixes most)', async (t) => {
  const r = await passes('npx', ['biome', 'check', '--reporter=summary', '.']);
  t.true(r.ok, r.output);
});

test('tsc: the whole project type-checks, tests and benchmarks included', async (t) => {
  const r = await passes('npx', ['tsc', '-p', 'tsconfig.json']);
  t.true(r.ok, r.output);
});
