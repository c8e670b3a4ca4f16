// fishnet as a package: packed, installed into a fresh project of its own, and the
// README's embedding example run there with a plain .js actor and with a .ts one, and
// examples/network.ts (machines, DHCP, an application actor of its own).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { transformSync } from 'esbuild';

const run = promisify(execFile);
const root = fileURLToPath(new URL('..', import.meta.url));

function readmeExamples(): Map<string, string> {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const out = new Map<string, string>();
  for (const m of readme.matchAll(/<!-- example: (\S+) -->\n```ts\n([\s\S]*?)```/g)) {
    if (!m[1]!.startsWith('examples/')) out.set(m[1]!, m[2]!);
  }
  return out;
}

const js = (ts: string) => transformSync(ts, { loader: 'ts', format: 'esm' }).code;

test.serial(
  'packed and installed in another project: the README example runs with a .js and a .ts actor',
  async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'fishnet-pack-'));
    try {
      // dist/ was built by `pretest`; pack what a publish would ship.
      const { stdout: packed } = await run(
        'npm',
        ['pack', '--ignore-scripts', '--json', '--pack-destination', work],
        {
          cwd: root,
        },
      );
      const tarball = join(work, JSON.parse(packed)[0].filename);
      const files: string[] = JSON.parse(packed)[0].files.map((f: { path: string }) => f.path);
      t.true(
        files.includes('dist/index.js') && files.includes('dist/index.d.ts'),
        'the compiled package is in the tarball',
      );
      t.true(files.includes('dist/runtime/worker/host.js'), 'and the worker host its actor threads load');
      t.false(
        files.some((f) => f.startsWith('test/')),
        'no tests',
      );

      const app = join(work, 'app');
      mkdirSync(app);
      writeFileSync(
        join(app, 'package.json'),
        JSON.stringify({ name: 'app', private: true, type: 'module' }),
      );
      await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], {
        cwd: app,
        timeout: 120_000,
      });

      const ex = readmeExamples();
      // The embedding program as plain JavaScript; it also reaches the libraries by their subpaths.
      const main = `${js(ex.get('main.ts')!)}
import { ipv4, formatIpv4 } from 'fishnet/net';
import { compileFilter } from 'fishnet/bfdmux';
console.log('subpaths:', formatIpv4(ipv4('10.0.0.2')), compileFilter('int16[12] == 2054').code.length);
`;
      for (const kind of ['js', 'ts'] as const) {
        const dir = join(app, kind);
        mkdirSync(dir);
        writeFileSync(join(dir, 'main.mjs'), main);
        // main names './greeter.ts'; fishnet finds greeter.js when only that exists.
        if (kind === 'ts') writeFileSync(join(dir, 'greeter.ts'), ex.get('greeter.ts')!);
        else writeFileSync(join(dir, 'greeter.js'), js(ex.get('greeter.ts')!));
        const { stdout } = await run(process.execPath, [join(dir, 'main.mjs')], {
          cwd: app,
          timeout: 60_000,
        });
        const lines = stdout.trim().split('\n');
        t.regex(lines[0]!, /^Hello, world \(from app\/greeter, to actor 0\)$/, `${kind} actor`);
        t.is(lines[1], 'greeted: 1');
        t.regex(stdout, /DOWN: \{ kind: 'killed', cause: 'kill' \}/);
        t.regex(stdout, /Hello, again \(from app\/greeter, to actor 0\)/);
        t.regex(stdout, /subpaths: 10\.0\.0\.2 7/);
      }
      // examples/network.ts as a project of its own would have it: machines, DHCP, an actor of its own.
      const netDir = join(app, 'network');
      mkdirSync(netDir);
      writeFileSync(
        join(netDir, 'network.mjs'),
        js(readFileSync(join(root, 'examples', 'network.ts'), 'utf8')),
      );
      writeFileSync(join(netDir, 'hello.ts'), readFileSync(join(root, 'examples', 'hello.ts'), 'utf8'));
      const { stdout: netOut } = await run(process.execPath, [join(netDir, 'network.mjs')], {
        cwd: app,
        timeout: 60_000,
      });
      t.is(
        netOut,
        'echoed: hello, fishnet\nclient leased an address; ports: [ 49152 ]\nports after the kill: 0\n',
      );

      // The command line runs the compiled JavaScript: no TypeScript is installed here.
      t.false(
        existsSync(join(app, 'node_modules', 'typescript')),
        'typescript is a build-time dependency only',
      );
      const { stdout: help } = await run(join(app, 'node_modules', '.bin', 'fishnet'), ['--help'], {
        cwd: app,
      });
      t.regex(help, /usage: fishnet <command>/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  },
);
