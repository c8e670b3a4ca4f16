// Fragmenting IPv4 datagrams: sizes, offsets, flags, options, errors; written in
// place without allocation; and Wireshark reassembles what we cut.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { fragmentCount, fragmentIpv4, MIN_MTU, writeFragment } from '../../lib/lwip/ipv4-fragment.ts';
import {
  EtherType,
  IpProtocol,
  Ipv4Packet,
  mac,
  PcapWriter,
  UDP_HEADER,
  writeEthernet,
  writeIpv4,
  writeUdp,
} from '../../lib/net/index.ts';
import { DST, datagram, SRC } from '../helpers/ipv4.ts';
import { have, missing } from '../helpers/tools.ts';

const view = (b: Uint8Array) => {
  const p = new Ipv4Packet();
  const why = p.attach(b, 0);
  if (why) throw new Error(why);
  return p;
};

test('a datagram that fits is sent as it is', (t) => {
  const d = datagram(1000);
  const r = fragmentIpv4(d, 1500);
  t.true(r.ok);
  t.deepEqual(r.ok && r.fragments, [d]);
  t.is(fragmentCount(d, 1500), 1);
});

test('3000 bytes at MTU 1500: offsets in 8-byte units, MF on all but the last, one id, good checksums', (t) => {
  const d = datagram(3000);
  const r = fragmentIpv4(d, 1500);
  if (!r.ok) return t.fail(r.error);
  const ps = r.fragments.map(view);
  t.deepEqual(
    ps.map((p) => [p.totalLength, p.fragmentOffset, p.moreFragments, p.id, p.checksumValid()]),
    [
      [1500, 0, true, 0x1234, true],
      [1500, 1480, true, 0x1234, true],
      [60, 2960, false, 0x1234, true],
    ],
  );
  t.true(
    ps.every((p) => p.src === SRC && p.dst === DST && p.protocol === 253 && p.ttl === 64 && !p.dontFragment),
  );
  const joined = new Uint8Array(3000);
  for (const p of ps)
    joined.set(p.buf.subarray(p.payloadOffset, p.payloadOffset + p.payloadLength), p.fragmentOffset);
  t.deepEqual(joined, d.subarray(20));
});

test('options: the first fragment keeps all, later ones only those with the copy flag (padded)', (t) => {
  // Record route (7, copy flag clear, 11 bytes) and router alert (0x94, copy flag set, 4 bytes).
  const rr = [7, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0];
  const ra = [0x94, 4, 0, 0];
  const d = datagram(200, { options: Uint8Array.from([...rr, 1, ...ra]) });
  t.is(view(d).headerLength, 36);
  const r = fragmentIpv4(d, 100);
  if (!r.ok) return t.fail(r.error);
  const ps = r.fragments.map(view);
  t.is(ps[0]!.headerLength, 36);
  t.is(ps[0]!.payloadLength, 64, '(100 - 36) rounded down to 8');
  t.deepEqual(ps[0]!.options(), [
    { type: 7, data: Uint8Array.from(rr.slice(2)) },
    { type: 0x94, data: Uint8Array.from([0, 0]) },
  ]);
  for (const p of ps.slice(1)) {
    t.is(p.headerLength, 24);
    t.deepEqual(p.options(), [{ type: 0x94, data: Uint8Array.from([0, 0]) }]);
  }
  t.deepEqual(
    ps.map((p) => p.payloadLength),
    [64, 72, 64],
  );
  t.true(ps.every((p) => p.totalLength <= 100 && p.checksumValid()));
});

test('a fragment is fragmented again: its offset carries over, and MF stays on its last piece', (t) => {
  const d = datagram(800, { mf: true, offset: 1600 });
  const r = fragmentIpv4(d, 500);
  if (!r.ok) return t.fail(r.error);
  t.deepEqual(
    r.fragments.map(view).map((p) => [p.fragmentOffset, p.payloadLength, p.moreFragments]),
    [
      [1600, 480, true],
      [2080, 320, true],
    ],
  );
});

test('what cannot be sent: DF set, an MTU under 68, a malformed header', (t) => {
  t.deepEqual(fragmentIpv4(datagram(2000, { df: true }), 1500), { ok: false, error: 'dont-fragment' });
  t.is(fragmentCount(datagram(1000, { df: true }), 1500), 1, 'DF is no obstacle when it fits');
  t.deepEqual(fragmentIpv4(datagram(100), MIN_MTU - 1), { ok: false, error: 'bad-mtu' });
  t.deepEqual(fragmentIpv4(datagram(100), 1500.5), { ok: false, error: 'bad-mtu' });
  const bad = datagram(100);
  bad[0] = 0x65;
  t.deepEqual(fragmentIpv4(bad, 1500), { ok: false, error: 'bad-version' });
  t.deepEqual(fragmentIpv4(datagram(100).subarray(0, 50), 1500), { ok: false, error: 'bad-total-length' });
  const opt = datagram(100, { options: Uint8Array.from([7, 40, 0, 0]) }); // claims 40 bytes in a 4-byte option area
  t.deepEqual(fragmentIpv4(opt, 68), { ok: false, error: 'bad-option' });
});

test('at the minimum MTU (68) with a 60-byte header, every fragment carries 8 bytes', (t) => {
  const d = datagram(64, { options: new Uint8Array(40).fill(1) }); // 40 bytes of no-op: none copied
  const r = fragmentIpv4(d, 68);
  if (!r.ok) return t.fail(r.error);
  const ps = r.fragments.map(view);
  t.is(ps[0]!.headerLength, 60);
  t.is(ps[0]!.payloadLength, 8);
  t.true(ps.slice(1).every((p) => p.headerLength === 20));
  t.is(
    ps.reduce((n, p) => n + p.payloadLength, 0),
    64,
  );
});

test('writeFragment writes in place (into a bigger buffer, at an offset) what fragmentIpv4 returns', (t) => {
  const d = datagram(5000);
  const r = fragmentIpv4(d, 1400);
  if (!r.ok) return t.fail(r.error);
  const pbuf = new Uint8Array(2048).fill(0xee);
  for (const [i, want] of r.fragments.entries()) {
    const n = writeFragment(d, 1400, i, pbuf, 100);
    t.deepEqual(pbuf.subarray(100, 100 + n), want);
    t.is(pbuf[99], 0xee);
  }
  t.throws(() => writeFragment(d, 1400, r.fragments.length, pbuf), { message: /fragment 4 of 4/ });
  t.throws(() => writeFragment(d, 1400, 0, new Uint8Array(100)), { message: /does not fit/ });
  t.throws(() => writeFragment(datagram(2000, { df: true }), 1400, 0, pbuf), { message: /dont-fragment/ });
});

const skipWithout = (tool: string) => (have(tool) ? test : test.skip);

skipWithout('tshark')(
  `Wireshark reassembles a UDP datagram from our fragments (${have('tshark') ? 'tshark' : missing('tshark')})`,
  (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'fishnet-frag-'));
    try {
      const n = 4000;
      const ip = new Uint8Array(20 + UDP_HEADER + n);
      const udpLen = writeUdp(ip, 20, {
        srcPort: 40000,
        dstPort: 9999,
        src: SRC,
        dst: DST,
        payload: Uint8Array.from({ length: n }, (_, i) => i & 0xff),
      });
      writeIpv4(ip, 0, { src: SRC, dst: DST, protocol: IpProtocol.UDP, payloadLength: udpLen, id: 0x4242 });
      const r = fragmentIpv4(ip, 1500);
      if (!r.ok) return t.fail(r.error);
      const w = new PcapWriter();
      // Out of order on purpose.
      for (const [k, f] of [...r.fragments].reverse().entries()) {
        const frame = new Uint8Array(14 + f.length);
        writeEthernet(frame, 0, {
          dst: mac('02:00:00:00:00:09'),
          src: mac('02:00:00:00:00:02'),
          ethertype: EtherType.IPV4,
        });
        frame.set(f, 14);
        w.add(frame, 1_700_000_000_000 + k);
      }
      const file = join(dir, 'frags.pcap');
      w.writeFile(file);
      const out = execFileSync(
        'tshark',
        [
          '-r',
          file,
          '-o',
          'ip.defragment:TRUE',
          '-o',
          'udp.check_checksum:TRUE',
          '-Y',
          'udp',
          '-T',
          'fields',
          '-E',
          'separator=|',
          '-e',
          'ip.fragment.count',
          '-e',
          'ip.reassembled.length',
          '-e',
          'udp.length',
          '-e',
          'udp.checksum.status',
          '-e',
          '_ws.malformed',
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
      t.deepEqual(out.trim().split('\n'), [`3|${UDP_HEADER + n}|${UDP_HEADER + n}|1|`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
