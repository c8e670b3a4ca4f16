// `fishnet filter compile` and `fishnet filter run`, as a user runs them.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { PcapWriter, udpFrame } from '../lib/net/index.ts';
import { HOST_IP, HOST_MAC, PEER_IP, PEER_MAC, variedFrames } from './helpers/frames.ts';
import { needs } from './helpers/tools.ts';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../bin/fishnet.mjs', import.meta.url));

async function fishnet(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], {
      timeout: 60_000,
      maxBuffer: 64 << 20,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

let dir: string;
let small: string;
let big: string;
const BIG_FRAMES = 30_000;

test.before(() => {
  dir = mkdtempSync(join(tmpdir(), 'fishnet-filter-cli-'));
  small = join(dir, 'small.pcap');
  const w = new PcapWriter();
  for (const f of variedFrames()) w.add(f.bytes, 1_700_000_000_000);
  w.writeFile(small);
  big = join(dir, 'big.pcap');
  const b = new PcapWriter();
  for (let i = 0; i < BIG_FRAMES; i++) {
    b.add(
      udpFrame({
        dstMac: HOST_MAC,
        srcMac: PEER_MAC,
        src: PEER_IP,
        dst: HOST_IP,
        srcPort: 1000 + (i % 7),
        dstPort: 5000 + (i % 10),
      }),
      i,
    );
  }
  b.writeFile(big);
});

test.after.always(() => rmSync(dir, { recursive: true, force: true }));

test('compile prints hex and a listing; --json gives bytecode and lastByteRead', async (t) => {
  const r = await fishnet('filter', 'compile', 'int16[12] == 2054');
  t.is(r.code, 0);
  t.regex(r.stdout, /bytecode +1172610c620608 \(7 bytes\)/);
  t.regex(r.stdout, /\(000\) EQUAL/);
  t.regex(r.stdout, /\(001\) {3}LOAD16/);
  t.regex(r.stdout, /EQ2K \[12\], #2054/);
  const j = await fishnet('filter', 'compile', '--json', 'int16[16 + (int8[14] & 15) * 4] == 53');
  t.deepEqual(JSON.parse(j.stdout), {
    bytecode: '117231611033527161'.concat('0e610f61046135'),
    lastByteRead: 78,
  });
  const unbounded = await fishnet('filter', 'compile', '--json', 'int8[int64[0]] == 1');
  t.is(JSON.parse(unbounded.stdout).lastByteRead, null);
});

test('a bad expression: the column and a caret on stderr, exit 1', async (t) => {
  const r = await fishnet('filter', 'compile', 'int16[12] === 1');
  t.is(r.code, 1);
  t.is(r.stderr, "error: unexpected character '=' at column 13\n  int16[12] === 1\n              ^\n");
});

test('run counts the frames that match; --json lists them, 1-based', async (t) => {
  const r = await fishnet('filter', 'run', 'int16[12] == 0x806', small);
  t.is(r.code, 0);
  t.is(r.stdout, `3 of ${variedFrames().length} frames match\n`);
  const j = JSON.parse((await fishnet('filter', 'run', '--json', 'int16[12] == 0x806', small)).stdout);
  const names = variedFrames().map((f) => f.name);
  t.deepEqual(
    j.matches.map((i: number) => names[i - 1]),
    ['arp request for host', 'arp reply from host', 'arp reply spoofing host'],
  );
  t.is(j.frames, names.length);
  t.is(j.matched, 3);
});

const BIG_EXPR = 'int16[36] == 5003 || int16[34] == 1004';

test('a large capture over a pool of threads gives the same answer as one thread', async (t) => {
  const one = JSON.parse((await fishnet('filter', 'run', '--json', BIG_EXPR, big)).stdout);
  const pool = JSON.parse((await fishnet('filter', 'run', '--json', '--threads', '3', BIG_EXPR, big)).stdout);
  t.is(one.frames, BIG_FRAMES);
  t.true(one.matched > 5000);
  t.deepEqual(pool, one);
});

needs('tcpdump')('a large capture: the same count as tcpdump gives', async (t) => {
  const one = JSON.parse((await fishnet('filter', 'run', '--json', BIG_EXPR, big)).stdout);
  const count = execFileSync('tcpdump', ['-r', big, 'ether[36:2] = 5003 or ether[34:2] = 1004'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
    .toString()
    .trim()
    .split('\n').length;
  t.is(count, one.matched);
});

test('bad files and arguments: clear errors and exit codes', async (t) => {
  const missingFile = await fishnet('filter', 'run', '1', join(dir, 'none.pcap'));
  t.is(missingFile.code, 2);
  t.regex(missingFile.stderr, /cannot read .*none\.pcap: ENOENT/);
  const notPcap = await fishnet('filter', 'run', '1', bin);
  t.is(notPcap.code, 1);
  t.regex(notPcap.stderr, /fishnet\.mjs: bad-magic at byte 0/);
  const threads = await fishnet('filter', 'run', '--threads', '0', '1', small);
  t.is(threads.code, 2);
  t.regex(threads.stderr, /--threads must be an integer from 1 to 64/);
  const nothing = await fishnet('filter', 'run', '1');
  t.is(nothing.code, 2);
  t.regex(nothing.stderr, /'run' needs an expression and a file/);
});
