// pcap files: written here, read back here, and opened by tcpdump and Wireshark (tshark) without complaint.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { PcapReader, PcapWriter } from '../../lib/net/index.ts';
import { variedFrames } from '../helpers/frames.ts';
import { needs } from '../helpers/tools.ts';

const T0 = 1_700_000_000_000;

function tmp(): { dir: string; done(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'fishnet-pcap-'));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('what the writer writes, the reader reads back: bytes, lengths, timestamps', (t) => {
  const frames = variedFrames();
  const w = new PcapWriter(128);
  for (const [i, f] of frames.entries()) w.add(f.bytes, T0 + i * 1000 + 0.25);
  const r = PcapReader.open(w.toBytes());
  if (!r.ok) return t.fail(r.error);
  t.deepEqual(r.value.header, {
    littleEndian: true,
    nanoseconds: false,
    version: [2, 4],
    snaplen: 128,
    linktype: 1,
  });
  const all = r.value.readAll();
  if (!all.ok) return t.fail(all.error);
  t.is(all.value.length, frames.length);
  for (const [i, rec] of all.value.entries()) {
    const f = frames[i]!.bytes;
    t.deepEqual(rec.data, f.subarray(0, 128), frames[i]!.name);
    t.is(rec.originalLength, f.length);
    t.is(rec.seconds, Math.floor((T0 + i * 1000) / 1000));
    t.is(rec.fraction, 250);
  }
});

test('big-endian and nanosecond files are read; bad files give typed errors', (t) => {
  const be = new Uint8Array(24 + 16 + 4);
  const v = new DataView(be.buffer);
  v.setUint32(0, 0xa1b23c4d, false); // nanoseconds, big-endian
  v.setUint16(4, 2, false);
  v.setUint16(6, 4, false);
  v.setUint32(16, 65535, false);
  v.setUint32(20, 1, false);
  v.setUint32(24, 7, false);
  v.setUint32(28, 999_999_999, false);
  v.setUint32(32, 4, false);
  v.setUint32(36, 60, false);
  be.set([1, 2, 3, 4], 40);
  const r = PcapReader.open(be);
  if (!r.ok) return t.fail(r.error);
  t.false(r.value.header.littleEndian);
  t.true(r.value.header.nanoseconds);
  const rec = r.value.next();
  t.deepEqual(
    rec && !('error' in rec) ? [rec.seconds, rec.fraction, Array.from(rec.data), rec.originalLength] : rec,
    [7, 999_999_999, [1, 2, 3, 4], 60],
  );
  t.is(r.value.next(), undefined);

  t.deepEqual(PcapReader.open(new Uint8Array(10)), { ok: false, error: 'truncated-header', at: 0 });
  t.deepEqual(PcapReader.open(new Uint8Array(24)), { ok: false, error: 'bad-magic', at: 0 });
  const w = new PcapWriter();
  w.add(new Uint8Array(100));
  const cut = w.toBytes().subarray(0, 24 + 16 + 50);
  const r2 = PcapReader.open(cut);
  t.deepEqual(r2.ok && r2.value.readAll(), { ok: false, error: 'truncated-record', at: 24 });
  const huge = w.toBytes().slice();
  new DataView(huge.buffer).setUint32(24 + 8, 1 << 20, true);
  const r3 = PcapReader.open(huge);
  t.deepEqual(r3.ok && r3.value.readAll(), { ok: false, error: 'bad-record-length', at: 24 });
  const v3 = w.toBytes().slice();
  new DataView(v3.buffer).setUint16(4, 3, true);
  t.deepEqual(PcapReader.open(v3), { ok: false, error: 'unsupported-version', at: 4 });
});

needs('tcpdump')('tcpdump reads every frame we write', (t) => {
  const { dir, done } = tmp();
  try {
    const frames = variedFrames();
    const w = new PcapWriter();
    for (const [i, f] of frames.entries()) w.add(f.bytes, T0 + i * 1000);
    const file = join(dir, 'all.pcap');
    w.writeFile(file);
    const out = execFileSync('tcpdump', ['-nn', '-r', file], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.is(out.trim().split('\n').length, frames.length);
  } finally {
    done();
  }
});

needs('tshark')('Wireshark (tshark) dissects every well-formed frame we write, with good checksums', (t) => {
  const { dir, done } = tmp();
  try {
    const broken = /truncated|ip header length|ip version|runt|ipv6/;
    const frames = variedFrames().filter((f) => !broken.test(f.name));
    const w = new PcapWriter();
    for (const [i, f] of frames.entries()) w.add(f.bytes, T0 + i * 1000);
    const file = join(dir, 'good.pcap');
    w.writeFile(file);
    // Application dissectors would read our synthetic payloads as (malformed) DNS and DHCP.
    const out = execFileSync(
      'tshark',
      [
        '-r',
        file,
        '--disable-protocol',
        'dns',
        '--disable-protocol',
        'dhcp',
        '-o',
        'ip.check_checksum:TRUE',
        '-o',
        'udp.check_checksum:TRUE',
        '-o',
        'tcp.check_checksum:TRUE',
        '-T',
        'fields',
        '-E',
        'separator=|',
        '-e',
        'frame.number',
        '-e',
        'ip.checksum.status',
        '-e',
        'udp.checksum.status',
        '-e',
        'tcp.checksum.status',
        '-e',
        'icmp.checksum.status',
        '-e',
        '_ws.malformed',
        '-e',
        '_ws.expert.severity',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    const rows = out
      .trim()
      .split('\n')
      .map((l) => l.split('|'));
    t.is(rows.length, frames.length);
    const ERROR = 8388608; // expert info severity "error"
    for (const [i, [, ip, udp, tcp, icmp, malformed, severity]] of rows.entries()) {
      const name = frames[i]!.name;
      t.is(malformed, '', `${name}: malformed`);
      t.false((severity ?? '').split(',').map(Number).includes(ERROR), `${name}: expert error`);
      for (const status of [ip, udp, tcp, icmp])
        t.true(status === '' || status === '1', `${name}: checksum status ${status}`);
      if (!name.startsWith('arp')) t.is(ip, '1', `${name}: IPv4 checksum good`);
    }
  } finally {
    done();
  }
});

test('a pcap written to disk is byte-identical to the one in memory', (t) => {
  const { dir, done } = tmp();
  try {
    const w = new PcapWriter();
    for (const f of variedFrames()) w.add(f.bytes, T0);
    w.writeFile(join(dir, 'x.pcap'));
    t.deepEqual(new Uint8Array(readFileSync(join(dir, 'x.pcap'))), w.toBytes());
  } finally {
    done();
  }
});
