// The command line as a user runs it.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/fishnet.mjs', import.meta.url));

async function fishnet(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

test('fishnet demo supervision: DOWN and restart are shown, exit 0', async (t) => {
  const r = await fishnet('demo', 'supervision');
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /running +demo\/alpha #\d+/);
  t.regex(r.stdout, /DOWN +demo\/beta #(\d+): error: Error: crash requested by the demo/);
  t.regex(r.stdout, /restart +demo: beta \(one_for_one\) -> #\d+/);
  t.regex(r.stdout, /stopped +demo\/gamma, demo\/beta, demo\/alpha/);
  const before = /DOWN +demo\/beta #(\d+)/.exec(r.stdout)![1];
  const after = /restart .* -> #(\d+)/.exec(r.stdout)![1];
  t.not(before, after, 'the restarted actor has a new id');
});

test('fishnet --help lists the commands; unknown commands fail with usage', async (t) => {
  const help = await fishnet('--help');
  t.is(help.code, 0);
  t.regex(help.stdout, /usage: fishnet <command>/);
  t.regex(help.stdout, /demo/);
  const bad = await fishnet('frobnicate');
  t.is(bad.code, 2);
  t.regex(bad.stderr, /unknown command 'frobnicate'/);
  const badDemo = await fishnet('demo', 'nope');
  t.is(badDemo.code, 2);
  t.regex(badDemo.stderr, /unknown demo 'nope'/);
  const demoHelp = await fishnet('demo', '--help');
  t.is(demoHelp.code, 0);
  t.regex(demoHelp.stdout, /supervision/);
});
