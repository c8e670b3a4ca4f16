// README's example is code, not prose: extract it, type-check it, run it.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

function examples(): Map<string, string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const out = new Map<string, string>();
  for (const m of readme.matchAll(/<!-- example: (\S+) -->\n```ts\n([\s\S]*?)```/g)) {
    // examples/ files are checked against the files themselves (test/examples.test.ts).
    if (!m[1]!.startsWith('examples/')) out.set(m[1]!, m[2]!);
  }
  return out;
}

test('the README example type-checks and runs as documented', async (t) => {
  const files = examples();
  t.deepEqual([...files.keys()].sort(), ['greeter.ts', 'main.ts']);
  // Inside the repository, so that `import 'fishnet'` resolves to this package (dist/).
  const dir = join(root, 'test', '.readme-example');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  try {
    for (const [name, text] of files) writeFileSync(join(dir, name), text);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../tsconfig.json',
        compilerOptions: { noEmit: true },
        include: ['*.ts'],
      }),
    );
    await run('npx', ['tsc', '-p', join(dir, 'tsconfig.json')], { cwd: root }).catch((e) => {
      t.fail(`tsc: ${e.stdout}${e.stderr}`);
    });
    const { stdout } = await run(process.execPath, ['--import', 'tsx', join(dir, 'main.ts')], {
      cwd: root,
      timeout: 30_000,
    });
    const lines = stdout.trim().split('\n');
    t.regex(lines[0]!, /^Hello, world \(from app\/greeter, to actor 0\)$/);
    t.is(lines[1], 'greeted: 1');
    t.regex(stdout, /DOWN: \{ kind: 'killed', cause: 'kill' \}/);
    t.regex(stdout, /binding: \{\s+kind: 'peer-died'/);
    t.regex(lines.at(-1)!, /^Hello, again \(from app\/greeter, to actor 0\)$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
