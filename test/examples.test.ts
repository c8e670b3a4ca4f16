// examples/ runs, and README.md shows it as it is.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

test('README.md shows examples/network.ts and examples/hello.ts as they are', (t) => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const f of ['network.ts', 'hello.ts']) {
    const m = new RegExp(
      `<!-- example: examples/${f.replace('.', '\\.')} -->\\n\`\`\`ts\\n([\\s\\S]*?)\`\`\``,
    ).exec(readme);
    t.truthy(m, `README has examples/${f}`);
    t.is(m![1], readFileSync(new URL(`../examples/${f}`, import.meta.url), 'utf8'), f);
  }
});

test('examples/network.ts: DHCP, an echo through an actor of its own, a kill that frees its port, a clean stop', async (t) => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'examples/network.ts'], {
    cwd: root,
    timeout: 60_000,
  });
  t.is(
    stdout,
    'echoed: hello, fishnet\nclient leased an address; ports: [ 49152 ]\nports after the kill: 0\n',
  );
});
