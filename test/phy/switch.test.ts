// The virtual switch: learning, forwarding, flooding, filtering, ageing, the table's
// bound, and (property-based) conservation: every frame offered is delivered or
// counted as dropped, and none goes back out of the port it came in by.
import test from 'ava';
import fc from 'fast-check';
import { formatMac, type Mac, mac } from '../../lib/net/index.ts';
import { type CableEnd, cable, type SwitchOptions, VirtualSwitch } from '../../lib/phy/index.ts';
import { FishnetError } from '../../protocols/errors.ts';
import { collect, frameId, idFrame, settle } from './helpers.ts';

const H = [1, 2, 3, 4, 5, 6].map((i) => mac(`02:00:00:00:00:0${i}`));
const BCAST = mac('ff:ff:ff:ff:ff:ff');
const MCAST = mac('01:00:5e:00:00:fb');

/** A switch with n hosts, each on a cable of its own: hosts[i] is the host's end. */
function rig(n: number, opts?: SwitchOptions, capacity?: number) {
  const sw = new VirtualSwitch(opts);
  const hosts: CableEnd[] = [];
  const swEnds: CableEnd[] = [];
  const got: Uint8Array[][] = [];
  for (let i = 0; i < n; i++) {
    const [host, swEnd] = cable({ name: `h${i}`, capacity });
    sw.attach(swEnd);
    hosts.push(host);
    swEnds.push(swEnd);
    got.push(collect(host));
  }
  const ids = () => got.map((g) => g.map(frameId));
  const drain = () => settle(...hosts, ...swEnds);
  const close = async () => {
    sw.close();
    await Promise.all(hosts.map((h) => h.close()));
  };
  return { sw, hosts, got, ids, drain, close };
}

test('unknown destinations are flooded; replies teach the switch; then unicast goes to one port only', async (t) => {
  const r = rig(4);
  r.hosts[0]!.send(idFrame(H[1]!, H[0]!, 1)); // h1 unknown: flooded to 1, 2, 3
  await r.drain();
  t.deepEqual(r.ids(), [[], [1], [1], [1]]);
  r.hosts[1]!.send(idFrame(H[0]!, H[1]!, 2)); // h0 learned on port 0: forwarded there only
  await r.drain();
  t.deepEqual(r.ids(), [[2], [1], [1], [1]]);
  r.hosts[0]!.send(idFrame(H[1]!, H[0]!, 3)); // h1 learned on port 1 now
  await r.drain();
  t.deepEqual(r.ids(), [[2], [1, 3], [1], [1]]);
  t.like(r.sw.stats, {
    rxFrames: 3,
    flooded: 1,
    forwarded: 2,
    filtered: 0,
    txFrames: 5,
    learned: 2,
    entries: 2,
  });
  t.deepEqual(
    r.sw.addresses().map((e) => [formatMac(e.mac), e.port]),
    [
      ['02:00:00:00:00:02', 1], // least recently seen first
      ['02:00:00:00:00:01', 0],
    ],
  );
  const p0 = r.sw.attached()[0]!.stats;
  t.like(p0, { rxFrames: 2, flooded: 1, forwarded: 1, txFrames: 1 });
  await r.close();
});

test('broadcast and multicast are flooded to every other port, never back to the sender', async (t) => {
  const r = rig(3);
  r.hosts[0]!.send(idFrame(H[1]!, H[0]!, 0)); // learn h0 on port 0
  r.hosts[1]!.send(idFrame(H[0]!, H[1]!, 0)); // learn h1 on port 1
  await r.drain();
  for (const g of r.got) g.length = 0;
  r.hosts[2]!.send(idFrame(BCAST, H[2]!, 1));
  r.hosts[0]!.send(idFrame(MCAST, H[0]!, 2));
  await r.drain();
  t.deepEqual(r.ids(), [[1], [1, 2], [2]]);
  t.is(r.sw.stats.flooded, 1 + 2); // the first frame's destination was unknown
  await r.close();
});

test('a frame to an address behind its own port is filtered, not sent back', async (t) => {
  const r = rig(2);
  // Two stations behind port 0 (a hub there): h0 and h2.
  r.hosts[0]!.send(idFrame(BCAST, H[2]!, 1));
  r.hosts[0]!.send(idFrame(H[2]!, H[0]!, 2));
  await r.drain();
  t.deepEqual(r.ids(), [[], [1]]);
  t.like(r.sw.stats, { filtered: 1, flooded: 1 });
  t.is(r.sw.attached()[0]!.stats.filtered, 1);
  await r.close();
});

test('a station that moves is learned on its new port', async (t) => {
  const r = rig(3);
  r.hosts[0]!.send(idFrame(BCAST, H[0]!, 1));
  await r.drain();
  r.hosts[2]!.send(idFrame(BCAST, H[0]!, 2)); // h0 now behind port 2
  await r.drain();
  r.hosts[1]!.send(idFrame(H[0]!, H[1]!, 3));
  await r.drain();
  t.deepEqual(r.ids(), [[2], [1, 2], [1, 3]]);
  t.is(r.sw.stats.moved, 1);
  await r.close();
});

test('entries age out after the ageing time (injectable clock); traffic refreshes them', async (t) => {
  let now = 1000;
  const r = rig(3, { ageingMs: 300_000, now: () => now });
  r.hosts[0]!.send(idFrame(BCAST, H[0]!, 1));
  r.hosts[1]!.send(idFrame(BCAST, H[1]!, 2));
  await r.drain();
  now += 200_000;
  r.hosts[1]!.send(idFrame(BCAST, H[1]!, 3)); // refreshes h1 only
  await r.drain();
  now += 100_000; // h0 last seen 300 s ago: aged; h1 100 s ago: kept
  for (const g of r.got) g.length = 0;
  r.hosts[2]!.send(idFrame(H[0]!, H[2]!, 10));
  r.hosts[2]!.send(idFrame(H[1]!, H[2]!, 11));
  await r.drain();
  t.deepEqual(r.ids(), [[10], [10, 11], []]);
  t.is(r.sw.stats.aged, 1);
  t.deepEqual(
    r.sw.addresses().map((e) => [formatMac(e.mac), e.ageMs]),
    [
      ['02:00:00:00:00:02', 100_000],
      ['02:00:00:00:00:03', 0],
    ],
  );
  await r.close();
});

test('the table is bounded: past maxEntries the least recently seen address is evicted', async (t) => {
  const r = rig(2, { maxEntries: 3 });
  for (const [i, h] of [H[0]!, H[1]!, H[2]!].entries()) r.hosts[0]!.send(idFrame(BCAST, h, i));
  await r.drain();
  r.hosts[0]!.send(idFrame(BCAST, H[0]!, 3)); // h0 seen again: h1 is now the oldest
  await r.drain();
  r.hosts[1]!.send(idFrame(BCAST, H[3]!, 4)); // a fourth address evicts h1
  await r.drain();
  t.like(r.sw.stats, { entries: 3, evicted: 1, learned: 4 });
  t.deepEqual(
    r.sw
      .addresses()
      .map((e) => formatMac(e.mac))
      .sort(),
    ['02:00:00:00:00:01', '02:00:00:00:00:03', '02:00:00:00:00:04'],
  );
  for (const g of r.got) g.length = 0;
  r.hosts[1]!.send(idFrame(H[1]!, H[3]!, 5)); // h1 unknown again: flooded
  r.hosts[1]!.send(idFrame(H[0]!, H[3]!, 6)); // h0 still known: forwarded
  await r.drain();
  t.deepEqual(r.ids(), [[5, 6], []]);
  t.like(r.sw.stats, { flooded: 6, forwarded: 1 });
  await r.close();
});

test('runts and frames from group or zero source addresses are dropped and counted by cause', async (t) => {
  const r = rig(2);
  r.hosts[0]!.send(new Uint8Array(0));
  r.hosts[0]!.send(new Uint8Array(13));
  r.hosts[0]!.send(idFrame(BCAST, MCAST, 1));
  r.hosts[0]!.send(idFrame(BCAST, mac('00:00:00:00:00:00'), 2));
  r.hosts[0]!.send(idFrame(BCAST, H[0]!, 3).subarray(0, 14)); // a bare header is a frame
  await r.drain();
  t.deepEqual(r.got[1]!.length, 1);
  t.deepEqual(r.sw.stats.dropped, { 'bad-length': 2, 'bad-source': 2, detached: 0 });
  t.is(r.sw.stats.entries, 1);
  await r.close();
});

test('detach stops switching to and from the port and forgets what was learned there', async (t) => {
  const r = rig(3);
  r.hosts[0]!.send(idFrame(BCAST, H[0]!, 1));
  await r.drain();
  const p0 = r.sw.attached()[0]!;
  p0.detach();
  p0.detach(); // idempotent
  t.false(p0.attached);
  t.is(r.sw.stats.entries, 0);
  r.hosts[1]!.send(idFrame(H[0]!, H[1]!, 2)); // h0 forgotten: flooded, but not to the detached port
  r.hosts[0]!.send(idFrame(BCAST, H[0]!, 3)); // arrives at the cable end with no receiver
  await r.drain();
  t.deepEqual(r.ids(), [[], [1], [1, 2]]);
  t.is(r.hosts[0]!.stats.txFrames, 2);
  // The port's cable end (no longer the switch's) counted the frame it could not deliver.
  t.is(p0.port.stats.dropped.closed, 1);
  // The index is reused by the next attach.
  const [x, y] = cable();
  t.is(r.sw.attach(y).index, 0);
  await x.close();
  await r.close();
});

test('attach checks its argument; a port cannot be attached twice', async (t) => {
  const sw = new VirtualSwitch({ name: 'sw0' });
  const [a, b] = cable();
  sw.attach(b);
  const e = t.throws(() => sw.attach(b), { instanceOf: FishnetError });
  t.is(e.errName, 'LINK_ERR_ALREADY_ATTACHED');
  t.regex(e.message, /cable\.b.*sw0/);
  const other = new VirtualSwitch({ name: 'sw1' });
  t.throws(() => other.attach(b), {
    instanceOf: FishnetError,
    message: /port 'cable\.b' is on switch 'sw0'/,
  });
  sw.attached()[0]!.detach();
  t.is(other.attach(b).index, 0, 'once detached it may go elsewhere');
  other.close();
  t.throws(() => sw.attach({} as never), { instanceOf: TypeError, message: /must be a FramePort/ });
  t.throws(() => new VirtualSwitch({ ageingMs: -1 }), { instanceOf: RangeError, message: /'ageingMs'.*-1/ });
  t.throws(() => new VirtualSwitch({ maxEntries: 0 }), { instanceOf: RangeError, message: /'maxEntries'/ });
  t.throws(() => new VirtualSwitch({ now: 5 as never }), {
    instanceOf: TypeError,
    message: /'now'.*function/,
  });
  t.throws(() => new VirtualSwitch({ ageing: 5 } as never), {
    instanceOf: TypeError,
    message: /unknown option/,
  });
  sw.close();
  await a.close();
});

// ---- property: conservation, and agreement with a reference bridge ----

interface Offer {
  readonly from: number;
  readonly src: number;
  readonly dst: number;
  readonly len: number;
  /** Let the cables drain before the next frame. */
  readonly settleAfter: boolean;
}

/** Addresses the frames use: indexes 0..5 stations, 6 broadcast, 7 multicast, 8 zero, 9 never a source. */
const ADDR: Mac[] = [...H, BCAST, MCAST, mac('00:00:00:00:00:00'), mac('02:00:00:00:00:99')];
const offerArb = (ports: number) =>
  fc.record({
    from: fc.nat(ports - 1),
    src: fc.oneof({ weight: 8, arbitrary: fc.nat(5) }, { weight: 1, arbitrary: fc.constantFrom(6, 7, 8) }),
    dst: fc.nat(ADDR.length - 1),
    len: fc.oneof(
      { weight: 9, arbitrary: fc.integer({ min: 18, max: 200 }) },
      { weight: 1, arbitrary: fc.nat(13) },
    ),
    settleAfter: fc.boolean(),
  });

function offerFrame(o: Offer, id: number): Uint8Array {
  if (o.len < 14) return new Uint8Array(o.len);
  return idFrame(ADDR[o.dst]!, ADDR[o.src]!, id, o.len);
}

test('property: every frame offered is delivered or counted dropped, and never leaves by its ingress port', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 2, max: 5 }).chain((n) =>
        fc.record({
          n: fc.constant(n),
          capacity: fc.integer({ min: 1, max: 6 }),
          maxEntries: fc.integer({ min: 1, max: 8 }),
          offers: fc.array(offerArb(n), { minLength: 1, maxLength: 60 }),
        }),
      ),
      async ({ n, capacity, maxEntries, offers }) => {
        // Small queues, so that both ingress and egress drops happen.
        const r = rig(n, { maxEntries }, capacity);
        const sender = new Map<number, number>();
        let offeredRunts = 0;
        for (const [i, o] of offers.entries()) {
          const id = i + 1;
          sender.set(id, o.from);
          if (o.len < 14) offeredRunts++;
          r.hosts[o.from]!.send(offerFrame(o, id));
          if (o.settleAfter) await r.drain();
        }
        await r.drain();
        const sw = r.sw.stats;
        const hostTx = r.hosts.reduce((s, h) => s + h.stats.txFrames, 0);
        const hostRefused = r.hosts.reduce((s, h) => s + h.stats.dropped['queue-full'], 0);
        // Offered = accepted by the host's cable + refused by it.
        t.is(hostTx + hostRefused, offers.length);
        // Accepted = taken in by the switch; each meets exactly one fate.
        t.is(sw.rxFrames, hostTx);
        const fates =
          sw.forwarded + sw.flooded + sw.filtered + sw.dropped['bad-length'] + sw.dropped['bad-source'];
        t.is(fates, sw.rxFrames);
        t.is(sw.dropped.detached, 0);
        // Each copy the switch sends out is received by a host or counted by the port that refused it.
        const received = r.got.reduce((s, g) => s + g.length, 0);
        const refusedOut = r.sw.attached().reduce((s, p) => s + p.port.stats.dropped['queue-full'], 0);
        t.is(sw.txRefused, refusedOut);
        t.is(sw.txFrames, received);
        // Nothing lost without a count anywhere.
        for (const h of r.hosts) t.is(h.stats.dropped.closed + h.stats.dropped['bad-length'], 0);
        // Never back out of the ingress port; never twice to the same host.
        for (const [port, g] of r.got.entries()) {
          const seen = new Set<number>();
          for (const f of g) {
            const id = frameId(f);
            t.not(sender.get(id), port, `frame ${id} came back to port ${port}`);
            t.false(seen.has(id), `frame ${id} reached port ${port} twice`);
            seen.add(id);
          }
        }
        t.true(sw.dropped['bad-length'] <= offeredRunts);
        await r.close();
      },
    ),
    { seed: 0x5eed, numRuns: 150 },
  );
});

test('property: with one frame at a time, deliveries are exactly those of a reference learning bridge', async (t) => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 2, max: 5 }).chain((n) =>
        fc.record({
          n: fc.constant(n),
          maxEntries: fc.integer({ min: 1, max: 6 }),
          offers: fc.array(offerArb(n), { minLength: 1, maxLength: 40 }),
        }),
      ),
      async ({ n, maxEntries, offers }) => {
        const r = rig(n, { maxEntries });
        // The model: a Map in least-recently-seen order, learning before looking up.
        const table = new Map<Mac, number>();
        const expected: number[][] = Array.from({ length: n }, () => []);
        for (const [i, o] of offers.entries()) {
          const id = i + 1;
          r.hosts[o.from]!.send(offerFrame(o, id));
          await r.drain();
          if (o.len < 14) continue;
          const src = ADDR[o.src]!;
          const dst = ADDR[o.dst]!;
          if (o.src >= 6) continue; // group or zero source: dropped
          table.delete(src);
          table.set(src, o.from);
          if (table.size > maxEntries) table.delete(table.keys().next().value!);
          const group = Math.floor(dst / 2 ** 40) & 1;
          const out = group ? undefined : table.get(dst);
          if (out === o.from) continue;
          // (A lookup does not refresh an entry: only frames from an address do.)
          if (out !== undefined) expected[out]!.push(id);
          else for (let p = 0; p < n; p++) if (p !== o.from) expected[p]!.push(id);
        }
        t.deepEqual(r.ids(), expected);
        await r.close();
      },
    ),
    { seed: 0xb41d, numRuns: 150 },
  );
});
