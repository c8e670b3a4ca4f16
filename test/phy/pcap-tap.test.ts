// The pcap tap: every frame both ways, with its time, in a file that tcpdump and
// Wireshark read; streaming through bounded memory, capture drops counted.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { mac, PcapReader, type PcapRecord } from '../../lib/net/index.ts';
import { cable, pcapTap } from '../../lib/phy/index.ts';
import { FishnetError } from '../../protocols/errors.ts';
import { variedFrames } from '../helpers/frames.ts';
import { have, missing } from '../helpers/tools.ts';
import { collect, frameId, idFrame, settle } from './helpers.ts';

const A = mac('02:00:00:00:00:0a');
const B = mac('02:00:00:00:00:0b');
const T0 = 1_700_000_000_000;

function tmp(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'fishnet-tap-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function records(path: string): { snaplen: number; linktype: number; records: PcapRecord[] } {
  const r = PcapReader.open(new Uint8Array(readFileSync(path)));
  if (!r.ok) throw new Error(`${path}: ${r.error}`);
  const all = r.value.readAll();
  if (!all.ok) throw new Error(`${path}: ${all.error} at ${all.at}`);
  return { snaplen: r.value.header.snaplen, linktype: r.value.header.linktype, records: all.value };
}

test('both directions are recorded in order, with the clock’s timestamps, byte for byte', async (t) => {
  const file = join(tmp(t), 'both.pcap');
  const [nic, wire] = cable();
  let now = T0;
  const tap = pcapTap(nic, file, { now: () => (now += 1.5) });
  t.is(tap.name, 'cable.a+pcap');
  const fromTap = collect(wire);
  const toTap = collect(tap);
  tap.send(idFrame(B, A, 1)); // out
  wire.send(idFrame(A, B, 2, 100)); // in
  tap.send(idFrame(B, A, 3, 1514));
  await settle(nic, wire);
  t.deepEqual(fromTap.map(frameId), [1, 3]);
  t.deepEqual(toTap.map(frameId), [2]);
  t.like(tap.stats, { txFrames: 2, txBytes: 60 + 1514, rxFrames: 1, rxBytes: 100 });
  await tap.close();
  t.like(tap.file.stats, { records: 3, dropped: 0, lost: 0, bytesWritten: statSync(file).size });
  const r = records(file);
  t.is(r.linktype, 1);
  t.is(r.snaplen, 65535);
  // Sends are recorded as they are offered, receptions as they are delivered.
  t.deepEqual(
    r.records.map((x) => [frameId(x.data), x.data.length, x.originalLength, x.seconds, x.fraction]),
    [
      [1, 60, 60, 1_700_000_000, 1500],
      [3, 1514, 1514, 1_700_000_000, 3000],
      [2, 100, 100, 1_700_000_000, 4500],
    ],
  );
  t.deepEqual(r.records[1]!.data, idFrame(B, A, 3, 1514));
  t.true(nic.stats.txFrames === 2 && wire.stats.dropped.closed === 0);
});

test('snaplen cuts what is kept and keeps the original length', async (t) => {
  const file = join(tmp(t), 'snap.pcap');
  const [nic] = cable();
  const tap = pcapTap(nic, file, { snaplen: 64, now: () => T0 });
  tap.send(idFrame(B, A, 1, 1000));
  tap.send(idFrame(B, A, 2, 40));
  await tap.close();
  const r = records(file);
  t.is(r.snaplen, 64);
  t.deepEqual(
    r.records.map((x) => [x.data.length, x.originalLength]),
    [
      [64, 1000],
      [40, 40],
    ],
  );
  t.deepEqual(r.records[0]!.data, idFrame(B, A, 1, 1000).subarray(0, 64));
});

test('a frame the inner port refuses is still recorded; one that arrives with no receiver too, counted closed', async (t) => {
  const file = join(tmp(t), 'refused.pcap');
  const [nic, wire] = cable({ capacity: 1 });
  const tap = pcapTap(nic, file, { now: () => T0 });
  t.true(tap.send(idFrame(B, A, 1)));
  t.false(tap.send(idFrame(B, A, 2))); // the cable's queue is full
  t.is(nic.stats.dropped['queue-full'], 1);
  wire.send(idFrame(A, B, 3));
  await settle(nic, wire);
  t.is(tap.stats.dropped.closed, 1);
  t.is(tap.stats.txFrames, 1);
  await tap.close();
  t.deepEqual(
    records(file).records.map((x) => frameId(x.data)),
    [1, 2, 3],
  );
  t.false(tap.send(idFrame(B, A, 4)));
  t.is(tap.stats.dropped.closed, 2);
});

test('memory is bounded: when every chunk is full or being written, records are dropped and counted', async (t) => {
  const file = join(tmp(t), 'burst.pcap');
  const [nic] = cable({ capacity: 2000 });
  const snaplen = 200;
  const bufferBytes = 2 * (16 + snaplen); // the least allowed: two chunks of one large record each
  const tap = pcapTap(nic, file, { snaplen, bufferBytes, now: () => T0 });
  const N = 1000;
  for (let i = 0; i < N; i++) tap.send(idFrame(B, A, i)); // one turn: no write can complete meanwhile
  const s = tap.file.stats;
  t.true(s.dropped > 0, 'a burst larger than the buffer drops captures');
  t.is(s.records + s.dropped, N);
  t.true(tap.file.memoryBytes <= bufferBytes);
  t.is(nic.stats.txFrames, N, 'capture drops never slow the link');
  await tap.file.flush();
  t.true(tap.send(idFrame(B, A, N)));
  await tap.close();
  const got = records(file).records.map((x) => frameId(x.data));
  t.is(got.length, s.records);
  t.is(got.at(-1), N);
  t.deepEqual(
    got.slice(0, -1),
    [...got.slice(0, -1)].sort((a, b) => a - b),
  );
});

test('what is buffered reaches the file after flushMs, before close', async (t) => {
  const file = join(tmp(t), 'timer.pcap');
  const [nic] = cable();
  const tap = pcapTap(nic, file, { flushMs: 10, now: () => T0 });
  tap.send(idFrame(B, A, 1));
  const deadline = Date.now() + 5000;
  while (statSync(file).size < 24 + 16 + 60 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 5));
  t.deepEqual(
    records(file).records.map((x) => frameId(x.data)),
    [1],
  );
  await tap.close();
});

test('a quiet link: the file header is written at once, so the capture is a valid empty file', async (t) => {
  const file = join(tmp(t), 'quiet.pcap');
  const [nic] = cable();
  const tap = pcapTap(nic, file, { flushMs: 60_000 });
  const deadline = Date.now() + 5000;
  while (statSync(file).size < 24 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  t.is(statSync(file).size, 24, 'the header, before any frame or flush timer');
  t.deepEqual(records(file).records, []);
  await tap.close();
});

test('close writes everything, closes the inner port and leaves no timer', async (t) => {
  const file = join(tmp(t), 'close.pcap');
  const [nic, wire] = cable();
  const tap = pcapTap(nic, file, { flushMs: 60_000 });
  for (let i = 0; i < 10; i++) tap.send(idFrame(B, A, i));
  t.true(tap.file.flushScheduled);
  await tap.close();
  await tap.close(); // idempotent
  t.false(tap.file.flushScheduled);
  t.is(records(file).records.length, 10);
  t.false(wire.send(idFrame(A, B, 99)), 'the inner cable is unplugged');
});

(existsSync('/dev/full') ? test : test.skip)(
  'a failing disk: the error is kept, the records lost are counted, the link goes on',
  async (t) => {
    const [nic] = cable();
    const tap = pcapTap(nic, '/dev/full', { now: () => T0 });
    for (let i = 0; i < 5; i++) t.true(tap.send(idFrame(B, A, i)));
    await tap.close();
    t.is((tap.file.error as NodeJS.ErrnoException | undefined)?.code, 'ENOSPC');
    t.like(tap.file.stats, { records: 5, lost: 5, bytesWritten: 0 });
  },
);

test('bad arguments: a clear error naming the option, or LINK_ERR_CAPTURE_FILE for a file that cannot be made', async (t) => {
  const dir = tmp(t);
  const [nic] = cable();
  const e = t.throws(() => pcapTap(nic, join(dir, 'no/such/dir/x.pcap')), { instanceOf: FishnetError });
  t.is(e.errName, 'LINK_ERR_CAPTURE_FILE');
  t.regex(e.message, /no\/such\/dir\/x\.pcap.*ENOENT/);
  const f = join(dir, 'x.pcap');
  t.throws(() => pcapTap(nic, f, { snaplen: 0 }), { instanceOf: RangeError, message: /'snaplen'.*0/ });
  t.throws(() => pcapTap(nic, f, { bufferBytes: 100 }), {
    instanceOf: RangeError,
    message: /'bufferBytes'.*100/,
  });
  t.throws(() => pcapTap(nic, f, { flushMs: Number.NaN }), {
    instanceOf: RangeError,
    message: /'flushMs'.*NaN/,
  });
  t.throws(() => pcapTap(nic, f, { now: Date.now() as never }), { instanceOf: TypeError, message: /'now'/ });
  t.throws(() => pcapTap(nic, f, { snapLen: 9 } as never), {
    instanceOf: TypeError,
    message: /unknown option 'snapLen'/,
  });
  t.throws(() => pcapTap({} as never, f), { instanceOf: TypeError, message: /'inner' must be a FramePort/ });
  t.throws(() => pcapTap(nic, '' as never), { instanceOf: TypeError, message: /path/ });
  await nic.close();
});

/** Well-formed frames of every kind lib/net builds (the malformed ones would be flagged, rightly). */
const goodFrames = () =>
  variedFrames().filter((f) => !/truncated|ip header length|ip version|runt|ipv6/.test(f.name));

async function tapped(t: { teardown(fn: () => void): void }): Promise<{ file: string; count: number }> {
  const file = join(tmp(t), 'varied.pcap');
  const [nic, wire] = cable({ capacity: 1024 });
  const tap = pcapTap(nic, file);
  collect(wire);
  collect(tap);
  const frames = goodFrames();
  for (const [i, f] of frames.entries()) (i % 2 ? wire : tap).send(f.bytes);
  await settle(nic, wire);
  await tap.close();
  return { file, count: frames.length };
}

(have('tshark') ? test : test.skip)(
  `Wireshark (tshark) reads the tap’s file: every frame, none malformed, no expert errors${have('tshark') ? '' : ` (${missing('tshark')})`}`,
  async (t) => {
    const { file, count } = await tapped(t);
    // Application dissectors would read the synthetic payloads as (malformed) DNS and DHCP.
    const out = execFileSync(
      'tshark',
      [
        '-r',
        file,
        '--disable-protocol',
        'dns',
        '--disable-protocol',
        'dhcp',
        '-T',
        'fields',
        '-E',
        'separator=|',
        '-e',
        'frame.number',
        '-e',
        '_ws.malformed',
        '-e',
        '_ws.expert.severity',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const rows = out
      .trim()
      .split('\n')
      .map((l) => l.split('|'));
    t.is(rows.length, count);
    const ERROR = 8388608; // expert info severity "error"
    for (const [n, malformed, severity] of rows) {
      t.is(malformed, '', `frame ${n} malformed`);
      t.false((severity ?? '').split(',').map(Number).includes(ERROR), `frame ${n}: expert error`);
    }
  },
);

(have('tcpdump') ? test : test.skip)(
  `tcpdump reads the tap’s file${have('tcpdump') ? '' : ` (${missing('tcpdump')})`}`,
  async (t) => {
    const { file, count } = await tapped(t);
    const out = execFileSync('tcpdump', ['-nn', '-r', file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.is(out.trim().split('\n').length, count);
  },
);
