// IPv4 reassembly: in order, out of order, duplicates, overlaps, oversized, expired,
// the memory bound, flows that share an id, RFC 1858; and the property that
// fragmenting then reassembling in any order gives the datagram back.
import test from 'ava';
import fc from 'fast-check';
import { fragmentIpv4 } from '../../lib/lwip/ipv4-fragment.ts';
import {
  DATAGRAM_OVERHEAD,
  FRAGMENT_OVERHEAD,
  Ipv4Reassembler,
  type ReassemblyResult,
} from '../../lib/lwip/ipv4-reassembly.ts';
import { IpProtocol, type Ipv4Addr, ipv4, writeIpv4 } from '../../lib/net/index.ts';
import { FishnetError } from '../../protocols/errors.ts';
import { DST, datagram, SRC } from '../helpers/ipv4.ts';

function fragments(d: Uint8Array, mtu: number): Uint8Array[] {
  const r = fragmentIpv4(d, mtu);
  if (!r.ok) throw new Error(r.error);
  return r.fragments;
}

/** A fragment made by hand: `data` at byte `offset`. */
function piece(
  offset: number,
  data: Uint8Array | number,
  f: { mf?: boolean; protocol?: number; id?: number; src?: Ipv4Addr; options?: Uint8Array } = {},
): Uint8Array {
  const payload =
    typeof data === 'number' ? Uint8Array.from({ length: data }, (_, i) => (offset + i) & 0xff) : data;
  const b = new Uint8Array(60 + payload.length);
  const hl = writeIpv4(b, 0, {
    src: f.src ?? SRC,
    dst: DST,
    protocol: f.protocol ?? 253,
    payloadLength: payload.length,
    id: f.id ?? 7,
    fragmentOffset: offset,
    moreFragments: f.mf ?? true,
    options: f.options,
  });
  b.set(payload, hl);
  return b.slice(0, hl + payload.length);
}

const feed = (r: Ipv4Reassembler, f: Uint8Array, now = 0): ReassemblyResult => r.input(f, 0, f.length, now);
const kinds = (r: Ipv4Reassembler, fs: Uint8Array[], now = 0) =>
  fs.map((f) => {
    const x = feed(r, f, now);
    return x.kind === 'dropped' ? x.cause : x.kind;
  });

test('in order: held, held, then the datagram, byte for byte; nothing left held', (t) => {
  const r = new Ipv4Reassembler();
  const d = datagram(3000);
  const fs = fragments(d, 1500);
  t.deepEqual(kinds(r, fs.slice(0, 2)), ['held', 'held']);
  t.is(r.heldDatagrams, 1);
  t.true(r.heldBytes > 2960);
  const last = feed(r, fs[2]!);
  t.deepEqual(last, { kind: 'complete', datagram: d });
  t.is(r.heldDatagrams, 0);
  t.is(r.heldBytes, 0);
  t.like(r.stats, { fragments: 3, reassembled: 1 });
  t.is(r.nextDeadline(), Infinity);
});

test('out of order, and a packet that is no fragment passes through', (t) => {
  const r = new Ipv4Reassembler();
  const d = datagram(5000, { options: Uint8Array.from([0x94, 4, 0, 0]) });
  const fs = fragments(d, 576);
  const order = [3, 0, 9, 5, 1, 7, 2, 6, 8, 4];
  t.is(fs.length, 10);
  const results = order.map((i) => feed(r, fs[i]!));
  t.deepEqual(
    results.slice(0, -1).map((x) => x.kind),
    Array(9).fill('held'),
  );
  t.deepEqual(results.at(-1), { kind: 'complete', datagram: d });
  t.deepEqual(feed(r, datagram(100)), { kind: 'not-fragment' });
  t.is(r.stats.fragments, 10);
});

test('an exact duplicate is dropped alone; the datagram still completes', (t) => {
  const r = new Ipv4Reassembler();
  const d = datagram(3000);
  const fs = fragments(d, 1500);
  t.deepEqual(kinds(r, [fs[1]!, fs[1]!, fs[0]!, fs[0]!]), ['held', 'duplicate', 'held', 'duplicate']);
  t.deepEqual(feed(r, fs[2]!), { kind: 'complete', datagram: d });
  t.is(r.stats.dropped.duplicate, 2);
});

test('overlaps drop the whole datagram (RFC 5722), and its later fragments, until its time-out', (t) => {
  const r = new Ipv4Reassembler({ timeoutMs: 10_000 });
  t.deepEqual(kinds(r, [piece(0, 16), piece(8, 16), piece(24, 8, { mf: false })]), [
    'held',
    'overlap',
    'after-drop',
  ]);
  // The same place with other bytes is an overlap too, not a duplicate.
  const other = piece(0, new Uint8Array(16).fill(9), { id: 8 });
  t.deepEqual(kinds(r, [piece(0, 16, { id: 8 }), other]), ['held', 'overlap']);
  // A fragment covering two held ones.
  t.deepEqual(kinds(r, [piece(0, 8, { id: 9 }), piece(16, 8, { id: 9 }), piece(0, 32, { id: 9 })]), [
    'held',
    'held',
    'overlap',
  ]);
  t.like(r.stats.dropped, { overlap: 3, 'after-drop': 1 });
  t.is(r.heldBytes, 3 * DATAGRAM_OVERHEAD, 'dropped datagrams keep only a tombstone');
  // After the time-out the key is free again (and the tombstone is not counted as a time-out).
  r.expire(10_000);
  t.is(r.heldDatagrams, 0);
  t.is(r.stats.dropped.timeout, 0);
  const d = datagram(40, { id: 7 });
  t.is(feed(r, piece(0, d.subarray(20, 36)), 10_001).kind, 'held');
  t.is(feed(r, piece(16, d.subarray(36), { mf: false }), 10_001).kind, 'complete');
});

test("a datagram that would pass 65,535 bytes is dropped (counting the first fragment's header)", (t) => {
  const r = new Ipv4Reassembler();
  // 20 bytes of header and data up to 65,515: exactly 65,535, allowed.
  t.deepEqual(kinds(r, [piece(65512, 3, { mf: false })]), ['held']);
  t.deepEqual(kinds(r, [piece(65512, 8, { id: 8 })]), ['oversized']);
  const r2 = new Ipv4Reassembler();
  t.deepEqual(kinds(r2, [piece(65520, 16, { mf: false })]), ['oversized']);
  // With 40 bytes of options on the first fragment the limit is 40 bytes lower.
  const r3 = new Ipv4Reassembler();
  t.deepEqual(
    kinds(r3, [piece(65464, 24, { mf: false }), piece(0, 8, { options: new Uint8Array(40).fill(1) })]),
    ['held', 'oversized'],
  );
});

test('time-out: an incomplete datagram is dropped 30 s after its first fragment (configurable)', (t) => {
  const r = new Ipv4Reassembler();
  const fs = fragments(datagram(3000), 1500);
  feed(r, fs[0]!, 0);
  feed(r, fs[1]!, 20_000);
  t.is(r.nextDeadline(), 30_000);
  r.expire(29_999);
  t.is(r.heldDatagrams, 1);
  t.deepEqual(feed(r, fs[2]!, 30_000), { kind: 'held' }, 'too late: a new datagram starts');
  t.is(r.stats.dropped.timeout, 1);
  const short = new Ipv4Reassembler({ timeoutMs: 500 });
  feed(short, fs[0]!, 0);
  short.expire(500);
  t.is(short.heldDatagrams, 0);
  t.is(short.stats.dropped.timeout, 1);
});

test('the memory bound: past it the oldest datagrams are dropped (counted); what is held never passes it', (t) => {
  const maxBytes = 8 * 1024;
  const r = new Ipv4Reassembler({ maxBytes });
  for (let id = 0; id < 20; id++) {
    feed(r, piece(0, 1000, { id }), id);
    t.true(r.heldBytes <= maxBytes, `${r.heldBytes} bytes held`);
  }
  const per = DATAGRAM_OVERHEAD + FRAGMENT_OVERHEAD + 20 + 1000;
  t.is(r.heldDatagrams, Math.floor(maxBytes / per));
  t.is(r.stats.dropped['memory-limit'], 20 - r.heldDatagrams);
  // The newest are the ones kept: the last one still completes.
  t.is(feed(r, piece(1000, 8, { id: 19, mf: false })).kind, 'complete');
  // A datagram bigger than the whole bound cannot be held.
  const tiny = new Ipv4Reassembler({ maxBytes: 1024 });
  t.deepEqual(kinds(tiny, [piece(0, 1200)]), ['memory-limit']);
});

test('two flows sharing an IP id are kept apart (source, destination and protocol are part of the key)', (t) => {
  const r = new Ipv4Reassembler();
  const a = datagram(3000, { id: 99, src: ipv4('10.0.0.2') });
  const b = datagram(3000, { id: 99, src: ipv4('10.0.0.3') });
  const c = datagram(3000, { id: 99, src: ipv4('10.0.0.2'), protocol: 254 });
  const [fa, fb, fc_] = [a, b, c].map((d) => fragments(d, 1500));
  const got: Uint8Array[] = [];
  for (let i = 0; i < 3; i++)
    for (const fs of [fa!, fb!, fc_!]) {
      const x = feed(r, fs[i]!);
      if (x.kind === 'complete') got.push(x.datagram);
    }
  t.deepEqual(got, [a, b, c]);
  t.is(r.stats.dropped.overlap, 0);
});

test('RFC 1858: a TCP fragment at offset 8, or a first TCP fragment under 16 bytes, drops the datagram', (t) => {
  const r = new Ipv4Reassembler();
  const tcp = { protocol: IpProtocol.TCP };
  t.deepEqual(kinds(r, [piece(0, 24, { ...tcp, id: 1 }), piece(8, 8, { ...tcp, id: 2 })]), [
    'held',
    'tiny-fragment',
  ]);
  t.deepEqual(kinds(r, [piece(0, 8, { ...tcp, id: 3 })]), ['tiny-fragment']);
  t.deepEqual(kinds(r, [piece(0, 8, { id: 4, protocol: IpProtocol.UDP })]), ['held'], 'UDP is not TCP');
  t.is(r.stats.dropped['tiny-fragment'], 2);
});

test('inconsistent ends, bad lengths, bad checksums, junk, too many pieces: each dropped with its cause', (t) => {
  const r = new Ipv4Reassembler({ maxFragments: 4 });
  t.deepEqual(kinds(r, [piece(16, 8, { mf: false, id: 1 }), piece(24, 8, { mf: false, id: 1 })]), [
    'held',
    'inconsistent',
  ]);
  t.deepEqual(kinds(r, [piece(16, 8, { mf: false, id: 2 }), piece(16, 16, { id: 2 })]), [
    'held',
    'inconsistent',
  ]);
  t.deepEqual(kinds(r, [piece(32, 8, { id: 3 }), piece(16, 8, { mf: false, id: 3 })]), [
    'held',
    'inconsistent',
  ]);
  t.deepEqual(kinds(r, [piece(0, 12, { id: 4 }), piece(8, 0, { id: 4 })]), [
    'bad-fragment-length',
    'bad-fragment-length',
  ]);
  const sum = piece(0, 16, { id: 5 });
  sum[10]! ^= 0xff;
  t.deepEqual(kinds(r, [sum, new Uint8Array([0x45, 0, 0])]), ['bad-checksum', 'malformed']);
  t.deepEqual(
    kinds(
      r,
      [0, 8, 16, 24, 32].map((o) => piece(o, 8, { id: 6 })),
    ),
    ['held', 'held', 'held', 'held', 'too-many-fragments'],
  );
  t.like(r.stats.dropped, {
    inconsistent: 3,
    'bad-fragment-length': 2,
    'bad-checksum': 1,
    malformed: 1,
    'too-many-fragments': 1,
  });
});

test('bad configuration: LWIP_ERR_ARG naming the field', (t) => {
  const e = t.throws(() => new Ipv4Reassembler({ timeoutMs: 0 }), { instanceOf: FishnetError });
  t.is(e?.errName, 'LWIP_ERR_ARG');
  t.regex(e?.message ?? '', /timeoutMs 0 is not an integer >= 1/);
  t.throws(() => new Ipv4Reassembler({ maxBytes: 100 }), { message: /maxBytes 100/ });
});

test('property: fragment(datagram) then reassemble in any order, with duplicates, gives the datagram back', (t) => {
  const arb = fc
    .record({
      size: fc.integer({ min: 1, max: 9000 }),
      mtu: fc.integer({ min: 68, max: 1500 }),
      id: fc.integer({ min: 0, max: 0xffff }),
      options: fc.constantFrom(
        undefined,
        Uint8Array.from([0x94, 4, 0, 0]),
        Uint8Array.from([7, 7, 4, 0, 0, 0, 0]),
      ),
      seed: fc.integer(),
      dups: fc.nat(5),
    })
    .filter((x) => x.size + 60 <= 0xffff);
  t.notThrows(() =>
    fc.assert(
      fc.property(arb, ({ size, mtu, id, options, seed, dups }) => {
        const d = datagram(size, { id, options });
        const fs = fragments(d, mtu);
        // A deterministic shuffle with some fragments sent twice.
        const order = fs.map((_, i) => i);
        let s = seed >>> 0;
        const rnd = (n: number) => {
          s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
          return s % n;
        };
        for (let i = order.length - 1; i > 0; i--) {
          const j = rnd(i + 1);
          [order[i], order[j]] = [order[j]!, order[i]!];
        }
        for (let k = 0; k < dups && order.length > 1; k++)
          order.splice(rnd(order.length - 1), 0, order[rnd(order.length)]!);
        const r = new Ipv4Reassembler({ maxBytes: 1 << 20, maxFragments: 1024 });
        let done: Uint8Array | undefined;
        for (const i of order) {
          const x = feed(r, fs[i]!);
          if (x.kind === 'complete') {
            done = x.datagram;
            break; // a copy arriving later would start a new datagram, as it should
          } else if (x.kind === 'dropped' && x.cause !== 'duplicate') return false;
          else if (x.kind === 'not-fragment' && fs.length > 1) return false;
        }
        if (fs.length === 1) return feed(r, fs[0]!).kind === 'not-fragment';
        return (
          done !== undefined &&
          done.length === d.length &&
          done.every((v, i) => v === d[i]) &&
          r.heldBytes === 0
        );
      }),
      { seed: 3, numRuns: 300 },
    ),
  );
});
