// The driver's fragment table: the first fragment decides, later ones follow, early
// ones wait; hostile ones take their datagram with them; memory and time are bounded.
import test from 'ava';
import fc from 'fast-check';
import { FragmentTable, isFirstFragment, isFragment } from '../../actors/e1000n/fragments.ts';
import { fragmentIpv4 } from '../../lib/lwip/ipv4-fragment.ts';
import { type Ipv4Addr, ipv4, tcpFrame, udpFrame } from '../../lib/net/index.ts';
import { HOST_IP, HOST_MAC, PEER_IP, PEER_MAC } from '../helpers/frames.ts';

interface Flow {
  src?: Ipv4Addr;
  id: number;
  dport: number;
  bytes: number;
  mtu?: number;
  tcp?: boolean;
}

/** A UDP (or TCP) datagram to dport, as Ethernet frames of its fragments, in order. */
function fragments(f: Flow): Uint8Array[] {
  const payload = new Uint8Array(f.bytes).map((_, i) => (i * 7 + f.id) & 0xff);
  const link = { dstMac: HOST_MAC, srcMac: PEER_MAC, src: f.src ?? PEER_IP, dst: HOST_IP, id: f.id };
  const whole = f.tcp
    ? tcpFrame({ ...link, srcPort: 999, dstPort: f.dport, seq: 1, ack: 0, flags: 0x02, payload })
    : udpFrame({ ...link, srcPort: 999, dstPort: f.dport, payload });
  const r = fragmentIpv4(whole.subarray(14), f.mtu ?? 576);
  if (!r.ok) throw new Error(r.error);
  return r.fragments.map((ip) => {
    const frame = new Uint8Array(14 + ip.length);
    frame.set(whole.subarray(0, 14));
    frame.set(ip, 14);
    return frame;
  });
}

/** A table whose targets are port numbers (the first fragment's destination port). */
function harness(opts = {}) {
  const got = new Map<number, Uint8Array[]>();
  const dead = new Set<number>();
  const table = new FragmentTable<number>(opts, (t) => !dead.has(t));
  let now = 0;
  const offer = (frame: Uint8Array) => {
    if (!isFragment(frame, frame.length)) throw new Error('not a fragment');
    table.receive(
      frame,
      frame.length,
      now,
      () => (frame[36]! << 8) | frame[37]! || undefined,
      (t, f, n) => {
        const list = got.get(t) ?? [];
        list.push(f.slice(0, n));
        got.set(t, list);
      },
    );
  };
  return {
    table,
    got,
    dead,
    offer,
    advance: (ms: number) => {
      now += ms;
    },
    get now() {
      return now;
    },
  };
}

const same = (a: Uint8Array[], b: Uint8Array[]) =>
  a.length === b.length && a.every((x, i) => x.length === b[i]!.length && x.every((v, j) => v === b[i]![j]));

test('in order: the first fragment finds the port, the rest follow it', (t) => {
  const h = harness();
  const frags = fragments({ id: 1, dport: 53, bytes: 2000 });
  t.true(frags.length >= 4);
  t.true(isFirstFragment(frags[0]!));
  for (const f of frags) h.offer(f);
  t.true(same(h.got.get(53)!, frags));
  t.is(h.table.stats.delivered, frags.length);
  t.deepEqual(h.table.size, { entries: 0, heldBytes: 0 }, 'a complete datagram leaves nothing behind');
});

test('out of order, some before their first: held, then delivered when the first comes', (t) => {
  const h = harness();
  const frags = fragments({ id: 2, dport: 80, bytes: 3000 });
  const order = [frags[2]!, frags[1]!, frags[frags.length - 1]!, frags[0]!, ...frags.slice(3, -1)];
  for (const f of order.slice(0, 3)) h.offer(f);
  t.is(h.got.size, 0, 'nothing goes anywhere before the first fragment');
  t.is(h.table.stats.held, 3);
  t.true(h.table.size.heldBytes > 0);
  for (const f of order.slice(3)) h.offer(f);
  t.is(h.got.get(80)!.length, frags.length, 'every fragment reached the port');
  t.deepEqual(h.table.size, { entries: 0, heldBytes: 0 });
});

test('two flows that share an IP id go to their own ports', (t) => {
  const h = harness();
  const a = fragments({ src: ipv4('10.0.0.7'), id: 7, dport: 1000, bytes: 1500 });
  const b = fragments({ src: ipv4('10.0.0.8'), id: 7, dport: 2000, bytes: 1500 });
  // Interleaved, b's first fragment last.
  const order = [a[0]!, b[1]!, a[1]!, b[2]!, a[2]!, b[0]!];
  for (const f of order) h.offer(f);
  t.true(same(h.got.get(1000)!, a));
  t.is(h.got.get(2000)!.length, b.length);
  t.true(
    same(
      [...h.got.get(2000)!].sort((x, y) => x[21]! - y[21]!),
      [...b].sort((x, y) => x[21]! - y[21]!),
    ),
  );
});

test('an overlapping fragment drops the whole datagram, and its later fragments (RFC 5722)', (t) => {
  const h = harness();
  const frags = fragments({ id: 3, dport: 53, bytes: 2000 });
  h.offer(frags[1]!); // held
  // A forged fragment that overlaps the second one by 8 bytes.
  const forged = frags[1]!.slice();
  const off = ((forged[20]! << 8) | forged[21]!) & 0x1fff;
  forged[20] = (forged[20]! & 0xe0) | ((off + 1) >> 8);
  forged[21] = (off + 1) & 0xff;
  h.offer(forged);
  t.is(h.table.stats.dropped.overlap, 1);
  for (const f of frags) h.offer(f);
  t.is(h.got.size, 0, 'nothing of that datagram went anywhere');
  t.is(h.table.stats.dropped.poisoned, frags.length);
  t.is(h.table.size.heldBytes, 0);
});

test('an exact duplicate is not an overlap: it follows its datagram', (t) => {
  const h = harness();
  const frags = fragments({ id: 4, dport: 53, bytes: 1200 });
  h.offer(frags[0]!);
  h.offer(frags[1]!);
  h.offer(frags[1]!);
  t.is(h.got.get(53)!.length, 3);
  t.is(h.table.stats.dropped.overlap, 0);
});

test('a datagram that would end past 65,535 bytes is dropped whole', (t) => {
  const h = harness();
  const frags = fragments({ id: 5, dport: 53, bytes: 1200 });
  h.offer(frags[0]!);
  const last = frags[1]!.slice();
  // Offset 8184 * 8 = 65,472: with its payload the datagram ends past 65,535.
  last[20] = (last[20]! & 0xe0) | (8184 >> 8);
  last[21] = 8184 & 0xff;
  h.offer(last);
  t.is(h.table.stats.dropped.oversize, 1);
  h.offer(frags[2]!);
  t.is(h.table.stats.dropped.poisoned, 1);
});

test('a fragment that is not the last and not a multiple of 8 bytes long is dropped whole, as badLength', (t) => {
  const h = harness();
  const frags = fragments({ id: 9, dport: 53, bytes: 1200 });
  h.offer(frags[0]!);
  // The middle fragment, four bytes shorter: its IP total length says so too.
  const short = frags[1]!.slice(0, frags[1]!.length - 4);
  const total = ((short[16]! << 8) | short[17]!) - 4;
  short[16] = total >> 8;
  short[17] = total & 0xff;
  h.offer(short);
  t.is(h.table.stats.dropped.badLength, 1);
  t.is(h.table.stats.dropped.oversize, 0, 'not counted as what it is not');
});

test('a forged first fragment racing a real one to another port: the datagram is dropped, not steered to the forger', (t) => {
  const h = harness();
  const frags = fragments({ id: 11, dport: 53, bytes: 1200 });
  // The forger's first fragment: same source, destination, protocol, IP id and length, to its own port.
  const forged = frags[0]!.slice();
  forged[36] = 6666 >> 8;
  forged[37] = 6666 & 0xff;
  h.offer(forged);
  for (const f of frags) h.offer(f);
  t.is(h.table.stats.dropped.firstConflict, 1);
  t.is(h.got.get(53), undefined, 'the victim gets no part of a datagram it cannot trust');
  t.is(h.got.get(6666)!.length, 1, 'the forger has only what it sent itself');
  // The same first fragment again is a plain duplicate: no conflict.
  const h2 = harness();
  const again = fragments({ id: 12, dport: 53, bytes: 1200 });
  h2.offer(again[0]!);
  h2.offer(again[0]!);
  for (const f of again.slice(1)) h2.offer(f);
  t.is(h2.table.stats.dropped.firstConflict, 0);
  t.is(h2.got.get(53)!.length, again.length + 1);
});

test('RFC 1858: a TCP fragment at offset 8, or a first one too short for the flags, is dropped', (t) => {
  const h = harness();
  const frags = fragments({ id: 6, dport: 22, bytes: 600, tcp: true, mtu: 68 });
  // With an MTU of 68 the first fragment carries 48 bytes: enough. Forge one at offset 8.
  const at8 = frags[1]!.slice();
  at8[20] = at8[20]! & 0xe0;
  at8[21] = 1;
  h.offer(at8);
  t.is(h.table.stats.dropped.tinyFragment, 1);
  const h2 = harness();
  const tiny = frags[0]!.slice(0, 14 + 20 + 8);
  tiny[16] = 0;
  tiny[17] = 28; // IP total length: 20 + 8 bytes of TCP
  h2.offer(tiny);
  t.is(h2.table.stats.dropped.tinyFragment, 1);
  t.is(h2.got.size, 0);
});

test('fragments whose first never comes expire with their entry, counted', (t) => {
  const h = harness({ expiryMs: 30_000 });
  const frags = fragments({ id: 8, dport: 53, bytes: 2000 });
  h.offer(frags[1]!);
  h.offer(frags[2]!);
  h.advance(29_999);
  h.table.expire(h.now);
  t.is(h.table.size.entries, 1);
  h.advance(1);
  h.table.expire(h.now);
  t.deepEqual(h.table.size, { entries: 0, heldBytes: 0 });
  t.is(h.table.stats.dropped.expired, 2);
  // The first fragment now starts a new datagram: the expired ones are gone for good.
  h.offer(frags[0]!);
  t.is(h.got.get(53)!.length, 1);
});

test('held fragments are bounded in memory: past the bound they are dropped and counted', (t) => {
  const h = harness({ maxHeldBytes: 4000 });
  let offered = 0;
  for (let id = 100; id < 120; id++) {
    const frags = fragments({ id, dport: 53, bytes: 2000 });
    for (const f of frags.slice(1)) {
      h.offer(f);
      offered++;
    }
  }
  t.true(h.table.size.heldBytes <= 4000);
  t.true(h.table.stats.dropped.memory > 0);
  t.is(h.table.stats.held + h.table.stats.dropped.memory, offered, 'every fragment held or counted');
});

test('a target that went away takes its fragments with it', (t) => {
  const h = harness();
  const frags = fragments({ id: 9, dport: 53, bytes: 2000 });
  h.offer(frags[0]!);
  h.dead.add(53);
  h.offer(frags[1]!);
  t.is(h.table.stats.dropped.noTarget, 1);
  t.is(h.got.get(53)!.length, 1);
  const other = fragments({ id: 10, dport: 54, bytes: 2000 });
  h.offer(other[0]!);
  h.table.dropTarget(54);
  t.is(h.table.size.entries, 0);
});

test('property: in any order, each port gets exactly its fragments (or a counted drop)', async (t) => {
  await fc.assert(
    fc.property(
      fc.array(
        fc.record({
          id: fc.nat(3),
          dport: fc.integer({ min: 1, max: 4 }),
          bytes: fc.integer({ min: 600, max: 3000 }),
        }),
        {
          minLength: 1,
          maxLength: 4,
        },
      ),
      fc.nat(),
      (flows, seed) => {
        const h = harness();
        // Distinct (src, id): two flows may share an id but not a source.
        const all = flows.flatMap((f, i) =>
          fragments({ ...f, src: ipv4(`10.0.1.${i + 1}`) }).map((frame) => ({ frame, port: f.dport })),
        );
        const order = fc.sample(fc.shuffledSubarray(all, { minLength: all.length }), {
          seed,
          numRuns: 1,
        })[0]!;
        for (const { frame } of order) h.offer(frame);
        for (const port of new Set(all.map((a) => a.port))) {
          const want = all.filter((a) => a.port === port).length;
          if ((h.got.get(port)?.length ?? 0) !== want) return false;
        }
        return h.table.size.entries === 0 && h.table.size.heldBytes === 0;
      },
    ),
    { numRuns: 150, seed: 11 },
  );
  t.pass();
});
