// The stack's ARP cache: resolution with retries, the bounded queue, REACHABLE ->
// STALE -> gone, learning, hostile packets, the table bound; and a property that no
// frame is ever lost without a cause.
import test from 'ava';
import fc from 'fast-check';
import { type ArpAction, ArpCache, type ArpCacheConfig } from '../../lib/lwip/arp-cache.ts';
import {
  ArpOp,
  ArpPacket,
  BROADCAST_MAC,
  type Ipv4Addr,
  ipv4,
  type Mac,
  mac,
  readMac,
  writeArp,
} from '../../lib/net/index.ts';
import { FishnetError } from '../../protocols/errors.ts';

const US = mac('02:00:00:00:00:01');
const US_IP = ipv4('10.0.0.2');
const GW = ipv4('10.0.0.1');
const GW_MAC = mac('02:00:00:00:00:fe');
const PEER = ipv4('10.0.0.9');
const PEER_MAC = mac('02:00:00:00:00:09');

const cache = (extra: Partial<ArpCacheConfig> = {}) => new ArpCache({ mac: US, ip: US_IP, ...extra });

function arp(
  op: number,
  senderMac: Mac,
  senderIp: Ipv4Addr,
  targetIp: Ipv4Addr,
  targetMac = 0 as Mac,
): ArpPacket {
  const b = new Uint8Array(28);
  writeArp(b, 0, { op, senderMac, senderIp, targetMac, targetIp });
  const p = new ArpPacket();
  if (p.attach(b, 0) !== undefined) throw new Error('bad ARP');
  return p;
}

let frameNo = 0;
/** An Ethernet frame with a blank destination and a serial number in its payload. */
function frame(): Uint8Array {
  const f = new Uint8Array(60);
  f[20] = ++frameNo & 0xff;
  return f;
}

const kinds = (as: ArpAction[]) => as.map((a) => a.kind);

test('a miss: the frame waits, a broadcast request goes out; the reply sends it with its MAC written', (t) => {
  const c = cache();
  t.is(c.lookup(GW, 0), undefined);
  const f = frame();
  t.deepEqual(c.queue(GW, f, 0), [{ kind: 'request', target: GW, dstMac: BROADCAST_MAC }]);
  t.like(c.entry(GW), { state: 'incomplete', queued: 1 });
  const g = frame();
  t.deepEqual(c.queue(GW, g, 10), [], 'one request per resolution');
  const out = c.input(arp(ArpOp.REPLY, GW_MAC, GW, US_IP, US), 20);
  t.deepEqual(out, [{ kind: 'transmit', nextHop: GW, mac: GW_MAC, frames: [f, g] }]);
  t.is(readMac(f, 0), GW_MAC);
  t.is(readMac(g, 0), GW_MAC);
  t.is(c.lookup(GW, 30), GW_MAC);
  t.like(c.entry(GW), { state: 'reachable', queued: 0 });
  t.like(c.stats, { hits: 1, misses: 1, requestsSent: 1, learned: 1 });
  // Queueing for a known address sends at once.
  const h = frame();
  t.deepEqual(c.queue(GW, h, 40), [{ kind: 'transmit', nextHop: GW, mac: GW_MAC, frames: [h] }]);
});

test('no reply: 3 tries 1 s apart, then the waiting frames are dropped as unreachable', (t) => {
  const c = cache();
  const f = frame();
  c.queue(PEER, f, 0);
  t.is(c.nextDeadline(), 1000);
  t.deepEqual(c.poll(999), []);
  t.deepEqual(c.poll(1000), [{ kind: 'request', target: PEER, dstMac: BROADCAST_MAC }]);
  t.deepEqual(c.poll(2000), [{ kind: 'request', target: PEER, dstMac: BROADCAST_MAC }]);
  t.is(c.nextDeadline(), 3000);
  t.deepEqual(c.poll(3000), [{ kind: 'drop', nextHop: PEER, frames: [f], cause: 'unreachable' }]);
  t.is(c.entry(PEER), undefined);
  t.like(c.stats, { requestsSent: 3, failures: 1, dropped: { unreachable: 1 } });
  t.is(c.nextDeadline(), Infinity);
  // A later frame starts a new resolution.
  t.deepEqual(kinds(c.queue(PEER, frame(), 5000)), ['request']);
});

test('the queue per next hop is bounded: past it the oldest frame is dropped and counted', (t) => {
  const c = cache({ queueLimit: 4 });
  const fs = Array.from({ length: 6 }, frame);
  const drops: Uint8Array[] = [];
  for (const f of fs) {
    for (const a of c.queue(PEER, f, 0)) {
      if (a.kind !== 'drop') continue;
      t.is(a.cause, 'queue-full');
      drops.push(...a.frames);
    }
  }
  t.deepEqual(drops, [fs[0], fs[1]]);
  t.is(c.stats.dropped['queue-full'], 2);
  const out = c.input(arp(ArpOp.REPLY, PEER_MAC, PEER, US_IP), 10);
  t.deepEqual(out, [{ kind: 'transmit', nextHop: PEER, mac: PEER_MAC, frames: fs.slice(2) }]);
});

test('REACHABLE -> STALE (still used, confirmed by a unicast request) -> REACHABLE again, or gone', (t) => {
  const c = cache({ reachableMs: 10_000, staleMs: 20_000 });
  c.queue(GW, frame(), 0);
  c.input(arp(ArpOp.REPLY, GW_MAC, GW, US_IP), 0);
  t.is(c.nextDeadline(), 10_000);
  t.is(c.lookup(GW, 9_999), GW_MAC);
  t.false(c.refreshWanted);
  t.is(c.lookup(GW, 10_000), GW_MAC, 'STALE is still used');
  t.like(c.entry(GW), { state: 'stale' });
  t.true(c.refreshWanted, 'and the host is told to poll');
  t.deepEqual(c.poll(10_000), [{ kind: 'request', target: GW, dstMac: GW_MAC }]);
  t.false(c.refreshWanted);
  c.input(arp(ArpOp.REPLY, GW_MAC, GW, US_IP), 10_050);
  t.like(c.entry(GW), { state: 'reachable' });
  // Stale again and its confirmation unanswered: gone after 3 tries.
  c.lookup(GW, 30_000);
  t.deepEqual(kinds(c.poll(30_000)), ['request']);
  t.deepEqual(kinds(c.poll(31_000)), ['request']);
  t.deepEqual(kinds(c.poll(32_000)), ['request']);
  t.deepEqual(c.poll(33_000), []);
  t.is(c.entry(GW), undefined);
  t.is(c.stats.lapsed, 1);
  // A STALE entry nobody uses is gone staleMs after it went STALE.
  c.queue(PEER, frame(), 40_000);
  c.input(arp(ArpOp.REPLY, PEER_MAC, PEER, US_IP), 40_000);
  c.poll(50_000);
  t.like(c.entry(PEER), { state: 'stale' });
  t.is(c.nextDeadline(), 70_000);
  c.poll(70_000);
  t.is(c.entry(PEER), undefined);
  t.is(c.lookup(PEER, 70_001), undefined);
});

test('learning (RFC 826): a request for us is answered and its sender learned; others update known entries only', (t) => {
  const c = cache();
  t.deepEqual(c.input(arp(ArpOp.REQUEST, PEER_MAC, PEER, US_IP), 0), [
    { kind: 'reply', targetMac: PEER_MAC, targetIp: PEER },
  ]);
  t.like(c.entry(PEER), { state: 'reachable', mac: PEER_MAC });
  t.deepEqual(c.input(arp(ArpOp.REQUEST, GW_MAC, GW, ipv4('10.0.0.77')), 0), []);
  t.is(c.entry(GW), undefined, 'a request for someone else teaches nothing');
  t.is(c.stats.ignored['not-for-us'], 1);
  // A reply nobody asked for is not learned either: it could fill the table.
  t.deepEqual(c.input(arp(ArpOp.REPLY, GW_MAC, GW, US_IP), 1), []);
  t.is(c.entry(GW), undefined);
  t.is(c.stats.ignored.unsolicited, 1);
  // A gratuitous ARP from a known host moves it to its new MAC.
  const moved = mac('02:00:00:00:00:99');
  t.deepEqual(c.input(arp(ArpOp.REQUEST, moved, PEER, PEER), 5), []);
  t.is(c.lookup(PEER, 6), moved);
  t.is(c.stats.macChanges, 1);
  // An RFC 5227 probe for our address: answered (to defend it), not learned.
  t.deepEqual(c.input(arp(ArpOp.REQUEST, GW_MAC, 0 as Ipv4Addr, US_IP), 7), [
    { kind: 'reply', targetMac: GW_MAC, targetIp: 0 as Ipv4Addr },
  ]);
  t.is(c.entry(0 as Ipv4Addr), undefined);
  // Without an address of our own yet, nothing is answered.
  const bare = cache({ ip: undefined });
  t.deepEqual(bare.input(arp(ArpOp.REQUEST, PEER_MAC, PEER, US_IP), 0), []);
  bare.ip = US_IP;
  t.deepEqual(kinds(bare.input(arp(ArpOp.REQUEST, PEER_MAC, PEER, US_IP), 1)), ['reply']);
});

test('a client stack (answer: false) learns from a request for its address but leaves the answer to netd', (t) => {
  const c = cache({ answer: false });
  t.deepEqual(c.input(arp(ArpOp.REQUEST, PEER_MAC, PEER, US_IP), 0), []);
  t.like(c.entry(PEER), { state: 'reachable', mac: PEER_MAC });
  t.is(c.stats.repliesSent, 0);
  t.throws(() => cache({ answer: 'no' as unknown as boolean }), { message: /answer no is not a boolean/ });
});

test('hostile ARP: bad op, multicast or zero sender, our own MAC, our address claimed (conflict)', (t) => {
  const c = cache();
  c.input(arp(ArpOp.REQUEST, PEER_MAC, PEER, US_IP), 0);
  const before = c.entry(PEER);
  t.like(before, { state: 'reachable', mac: PEER_MAC });
  t.deepEqual(c.input(arp(7, GW_MAC, PEER, US_IP), 1), []);
  t.deepEqual(c.input(arp(ArpOp.REPLY, BROADCAST_MAC, PEER, US_IP), 1), []);
  t.deepEqual(c.input(arp(ArpOp.REPLY, mac('01:00:5e:00:00:01'), PEER, US_IP), 1), []);
  t.deepEqual(c.input(arp(ArpOp.REPLY, 0 as Mac, PEER, US_IP), 1), []);
  t.deepEqual(c.input(arp(ArpOp.REPLY, US, PEER, US_IP), 1), []);
  t.deepEqual(c.entry(PEER), before, 'none of them touched the entry');
  t.deepEqual(c.input(arp(ArpOp.REPLY, GW_MAC, US_IP, US_IP), 2), [{ kind: 'conflict', mac: GW_MAC }]);
  t.is(c.entry(US_IP), undefined);
  t.like(c.stats.ignored, { 'bad-op': 1, 'bad-sender': 3, 'from-us': 1, conflict: 1 });
});

test('the table is bounded: the oldest entry is evicted (its waiting frames dropped and counted)', (t) => {
  const c = cache({ maxEntries: 3 });
  const hop = (i: number) => ipv4(`10.0.1.${i}`);
  const first = frame();
  c.queue(hop(1), first, 0);
  c.queue(hop(2), frame(), 1);
  c.input(arp(ArpOp.REPLY, PEER_MAC, hop(2), US_IP), 2); // resolved: now the youngest
  c.queue(hop(3), frame(), 3);
  const out = c.queue(hop(4), frame(), 4);
  t.deepEqual(
    out.filter((a) => a.kind === 'drop'),
    [{ kind: 'drop', nextHop: hop(1), frames: [first], cause: 'evicted' }],
  );
  t.is(c.size, 3);
  t.is(c.entry(hop(1)), undefined);
  t.like(c.stats, { evictions: 1, dropped: { evicted: 1 } });
});

test('frames for addresses ARP does not resolve, and runt frames, are dropped with their cause', (t) => {
  const c = cache();
  for (const a of ['0.0.0.0', '255.255.255.255', '224.0.0.251', '127.0.0.1'])
    t.like(c.queue(ipv4(a), frame(), 0)[0], { kind: 'drop', cause: 'bad-next-hop' });
  t.like(c.queue(PEER, new Uint8Array(10), 0)[0], { kind: 'drop', cause: 'bad-frame' });
  t.like(c.stats.dropped, { 'bad-next-hop': 4, 'bad-frame': 1 });
  t.is(c.size, 0);
});

test('flush drops what waits, with its cause', (t) => {
  const c = cache();
  const f = frame();
  c.queue(PEER, f, 0);
  t.deepEqual(c.flush(), [{ kind: 'drop', nextHop: PEER, frames: [f], cause: 'flushed' }]);
  t.is(c.size, 0);
});

test('bad configuration: LWIP_ERR_ARG naming the field', (t) => {
  const e = t.throws(() => cache({ tries: 0 }), { instanceOf: FishnetError });
  t.is(e?.errName, 'LWIP_ERR_ARG');
  t.regex(e?.message ?? '', /tries 0 is not a positive integer/);
  t.throws(() => cache({ retryMs: Number.NaN }), { message: /retryMs NaN/ });
  t.throws(() => cache({ mac: BROADCAST_MAC }), { message: /not a unicast MAC/ });
});

test('property: whatever happens, every frame queued is sent, dropped with a cause, or still waiting; bounds hold', (t) => {
  const hops = [GW, PEER, ipv4('10.0.0.3'), ipv4('10.0.0.4'), ipv4('10.0.0.5')];
  const macs = [GW_MAC, PEER_MAC, mac('02:00:00:00:00:03'), BROADCAST_MAC, US];
  const op = fc.oneof(
    fc.record({ k: fc.constant('queue' as const), hop: fc.nat(hops.length - 1), dt: fc.nat(700) }),
    fc.record({ k: fc.constant('lookup' as const), hop: fc.nat(hops.length - 1), dt: fc.nat(5000) }),
    fc.record({ k: fc.constant('poll' as const), dt: fc.nat(3000) }),
    fc.record({
      k: fc.constant('arp' as const),
      op: fc.constantFrom(1, 2, 3),
      smac: fc.nat(macs.length - 1),
      sip: fc.nat(hops.length - 1),
      forUs: fc.boolean(),
      dt: fc.nat(500),
    }),
    fc.record({ k: fc.constant('flush' as const) }),
  );
  t.notThrows(() =>
    fc.assert(
      fc.property(fc.array(op, { minLength: 5, maxLength: 120 }), (ops) => {
        const c = cache({ queueLimit: 3, maxEntries: 3, reachableMs: 4000, staleMs: 4000 });
        let now = 0;
        const queued = new Set<Uint8Array>();
        const done = new Set<Uint8Array>();
        const settle = (as: ArpAction[]) => {
          for (const a of as) {
            if (a.kind !== 'transmit' && a.kind !== 'drop') continue;
            for (const f of a.frames) {
              if (!queued.has(f) || done.has(f)) return false; // sent or dropped twice, or never queued
              done.add(f);
              if (a.kind === 'transmit' && readMac(f, 0) !== a.mac) return false;
            }
          }
          return true;
        };
        for (const o of ops) {
          let out: ArpAction[] = [];
          if (o.k === 'queue') {
            now += o.dt;
            const f = frame();
            queued.add(f);
            out = c.queue(hops[o.hop]!, f, now);
          } else if (o.k === 'lookup') {
            now += o.dt;
            c.lookup(hops[o.hop]!, now);
          } else if (o.k === 'poll') {
            now += o.dt;
            out = c.poll(now);
          } else if (o.k === 'arp') {
            now += o.dt;
            out = c.input(arp(o.op, macs[o.smac]!, hops[o.sip]!, o.forUs ? US_IP : hops[0]!), now);
          } else {
            out = c.flush();
          }
          if (!settle(out)) return false;
          if (c.size > 3) return false;
          let waiting = 0;
          for (const h of hops) {
            const e = c.entry(h);
            if (e && e.queued > 3) return false;
            waiting += e?.queued ?? 0;
          }
          if (queued.size !== done.size + waiting) return false;
        }
        return true;
      }),
      { seed: 9, numRuns: 400 },
    ),
  );
});
