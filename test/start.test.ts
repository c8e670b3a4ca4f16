// `npm start` (fishnet start): DHCP from the peer, echo clients, traffic, a view, a summary, exit 0.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/fishnet.mjs', import.meta.url));

test('npm start runs fishnet start: a leased address, echo clients with traffic, plain lines off a terminal, a summary, exit 0', async (t) => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    scripts: Record<string, string>;
  };
  t.is(pkg.scripts.start, 'node bin/fishnet.mjs start');
  const { stdout } = await run(process.execPath, [bin, 'start', '--seconds', '2', '--clients', '2'], {
    timeout: 90_000,
  });
  t.regex(stdout, /m1 \(02:[0-9a-f:]+\) leased 10\.0\.0\.100 in/);
  // A line each half second or so (a loaded machine stretches the half seconds).
  t.regex(stdout, /^t=\d+\.\ds echo-7: \d+ echoed (\d+|-)\/s drops \d+; echo-7001: /m);
  t.false(stdout.includes('\x1b['), 'no cursor movement when stdout is not a terminal');
  const m = /summary: the peer sent (\d+) datagrams; (\d+) came back \((\d+) missing\)/.exec(stdout);
  t.truthy(m, stdout);
  t.true(Number(m![1]) > 1000 && Number(m![2]) > 0);
  t.is(Number(m![1]) - Number(m![2]), Number(m![3]));
  if (Number(m![3]) > 0) {
    // Whatever went missing was counted somewhere on the way, and the summary says where.
    const where = /where they went, as counted on the way: (.*)/.exec(stdout);
    t.truthy(where, stdout);
    const counted = [...where![1]!.matchAll(/ (\d+)(?:,|$)/g)].reduce((a, x) => a + Number(x[1]), 0);
    t.true(counted > 0 && counted <= Number(m![3]), `${counted} counted of ${m![3]} missing`);
  }
  t.regex(stdout, /round trips: echo-7 p50 \d+ µs, p99 \d+ µs; echo-7001 p50/);
  t.regex(stdout, /all stopped/);
});

test('fishnet start: bad flags are one line and exit 2', async (t) => {
  const r = await run(process.execPath, [bin, 'start', '--clients', '9']).catch((e) => e);
  t.is(r.code, 2);
  t.regex(r.stderr, /^fishnet start: --clients must be an integer from 1 to 8, not '9'/);
});
