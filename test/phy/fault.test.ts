// The fault injector: options checked; rate 0 is the identity; the same seed gives
// the same result; each rate is honoured within a statistical bound over many
// frames (seeded, so deterministic); each fault does what it says.
import test from 'ava';
import { mac } from '../../lib/net/index.ts';
import { type FaultOptions, faultInjector, Prng } from '../../lib/phy/index.ts';
import { activeTimers, frameId, idFrame, ProbePort } from './helpers.ts';

const A = mac('02:00:00:00:00:0a');
const B = mac('02:00:00:00:00:0b');

const frames = (n: number, len = 64) => Array.from({ length: n }, (_, i) => idFrame(B, A, i, len + (i % 7)));

/** Wait until the injector holds nothing (its timer has sent every delayed frame). */
async function drained(f: { readonly holding: number }): Promise<void> {
  const end = Date.now() + 10_000;
  while (f.holding > 0) {
    if (Date.now() > end) throw new Error('held frames were never released');
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Frames through an injector both ways: what reached the inner port and what reached the receiver. */
async function through(opts: FaultOptions, input: Uint8Array[]) {
  const inner = new ProbePort();
  const f = faultInjector(inner, opts);
  const received: Uint8Array[] = [];
  f.setReceiver((x) => received.push(x.slice()));
  const accepted = input.map((x) => f.send(x));
  for (const x of input) inner.inject(x);
  await drained(f);
  const stats = structuredClone(f.stats);
  await f.close();
  return { sent: inner.sent, received, accepted, stats };
}

const differingBytes = (a: Uint8Array, b: Uint8Array) => {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
};

test('options are checked: wrong type, NaN and out of range name the option and the value', (t) => {
  const p = new ProbePort();
  const bad = (o: unknown, type: typeof TypeError | typeof RangeError, message: RegExp) =>
    t.throws(() => faultInjector(p, o as FaultOptions), { instanceOf: type, message });
  bad(undefined, TypeError, /seed/);
  bad({}, TypeError, /'seed' must be an integer, not undefined/);
  bad({ seed: -1 }, RangeError, /'seed'.*-1/);
  bad({ seed: 2 ** 32 }, RangeError, /'seed'.*4294967296/);
  bad({ seed: 1.5 }, RangeError, /'seed'.*1\.5/);
  bad({ seed: '1' }, TypeError, /'seed'.*"1"/);
  bad({ seed: 1, drop: Number.NaN }, RangeError, /'drop'.*0\.\.1.*NaN/);
  bad({ seed: 1, duplicate: 1.01 }, RangeError, /'duplicate'.*1\.01/);
  bad({ seed: 1, corrupt: -0.1 }, RangeError, /'corrupt'.*-0\.1/);
  bad({ seed: 1, reorder: '0.5' }, TypeError, /'reorder'.*"0\.5"/);
  bad({ seed: 1, delay: true }, TypeError, /'delay'.*true/);
  bad({ seed: 1, delayMs: -5 }, RangeError, /'delayMs'.*-5/);
  bad({ seed: 1, delayMs: Number.POSITIVE_INFINITY }, RangeError, /'delayMs'.*Infinity/);
  bad({ seed: 1, reorderMs: null }, TypeError, /'reorderMs'.*null/);
  bad({ seed: 1, direction: 'up' }, RangeError, /'direction'.*tx, rx, both.*"up"/);
  bad({ seed: 1, maxHeld: 0 }, RangeError, /'maxHeld'/);
  bad({ seed: 1, dorp: 0.1 }, TypeError, /unknown option 'dorp'/);
  t.throws(() => faultInjector({} as never, { seed: 1 }), { instanceOf: TypeError, message: /'inner'/ });
  t.throws(() => new Prng(-1), { instanceOf: RangeError });
});

test.serial(
  'rate 0 is the identity: every frame, in order, unchanged, both ways; nothing held, no timer',
  async (t) => {
    const input = frames(500);
    const timers = activeTimers();
    const r = await through(
      { seed: 99, drop: 0, duplicate: 0, corrupt: 0, reorder: 0, delay: 0, delayMs: 5, direction: 'both' },
      input,
    );
    t.deepEqual(r.sent, input);
    t.deepEqual(r.received, input);
    t.true(r.accepted.every(Boolean));
    t.deepEqual(r.stats.faults, {
      tx: { dropped: 0, duplicated: 0, corrupted: 0, reordered: 0, delayed: 0 },
      rx: { dropped: 0, duplicated: 0, corrupted: 0, reordered: 0, delayed: 0 },
    });
    t.like(r.stats, { txFrames: 500, rxFrames: 500 });
    t.is(activeTimers(), timers);
  },
);

test('the same seed gives the same result; another seed another', async (t) => {
  const all: FaultOptions = {
    seed: 7,
    drop: 0.1,
    duplicate: 0.1,
    corrupt: 0.1,
    reorder: 0.1,
    delay: 0.1,
    delayMs: 3,
    reorderMs: 3,
  };
  const input = frames(1000);
  const one = await through(all, input);
  const two = await through(all, input);
  const other = await through({ ...all, seed: 8 }, input);
  t.deepEqual(two, one);
  t.notDeepEqual(other.sent, one.sent);
  t.notDeepEqual(other.stats.faults, one.stats.faults);
  // The two directions draw from generators of their own: both suffered, differently.
  t.true(one.stats.faults.rx.dropped > 0 && one.stats.faults.tx.dropped > 0);
  t.notDeepEqual(one.stats.faults.rx, one.stats.faults.tx);
});

/** Binomial: |count - n p| within 5 standard deviations (seeded, so this either always holds or never). */
function near(t: { true(v: boolean, m?: string): void }, count: number, n: number, p: number, what: string) {
  const sd = Math.sqrt(n * p * (1 - p));
  t.true(Math.abs(count - n * p) <= 5 * sd, `${what}: ${count} of ${n}, expected ${n * p} ± ${5 * sd}`);
}

test('rates are honoured over many frames, and each fault does what it says', async (t) => {
  const N = 20_000;
  const p = 0.1;
  const input = frames(N, 60);

  const drop = await through({ seed: 1, drop: p, direction: 'tx' }, input);
  near(t, drop.stats.faults.tx.dropped, N, p, 'drop');
  t.is(drop.sent.length, N - drop.stats.faults.tx.dropped);
  t.is(drop.stats.dropped.injected, drop.stats.faults.tx.dropped);
  t.is(drop.accepted.filter((x) => !x).length, drop.stats.faults.tx.dropped);
  t.deepEqual(drop.received, input, "direction 'tx' leaves received frames alone");

  const dup = await through({ seed: 2, duplicate: p, direction: 'rx' }, input);
  near(t, dup.stats.faults.rx.duplicated, N, p, 'duplicate');
  t.is(dup.received.length, N + dup.stats.faults.rx.duplicated);
  let adjacentPairs = 0;
  for (let i = 1; i < dup.received.length; i++)
    if (frameId(dup.received[i]!) === frameId(dup.received[i - 1]!)) adjacentPairs++;
  t.is(adjacentPairs, dup.stats.faults.rx.duplicated, 'a duplicate follows its original at once');
  t.deepEqual(dup.sent, input);

  const corrupt = await through({ seed: 3, corrupt: p, direction: 'tx' }, input);
  near(t, corrupt.stats.faults.tx.corrupted, N, p, 'corrupt');
  const changed = corrupt.sent.map((f, i) => differingBytes(f, input[i]!));
  t.is(changed.filter((d) => d > 0).length, corrupt.stats.faults.tx.corrupted);
  t.true(
    changed.every((d) => d <= 1),
    'a corruption changes one byte',
  );
  t.deepEqual(input[0], idFrame(B, A, 0, 60), "the caller's bytes are never touched");

  const delay = await through({ seed: 4, delay: p, delayMs: 1, maxHeld: 4096, direction: 'tx' }, input);
  near(t, delay.stats.faults.tx.delayed, N, p, 'delay');
  t.is(delay.sent.length, N, 'every delayed frame arrives');
  const late = delay.sent.filter((f, i) => frameId(f) !== i).length;
  t.true(late > 0, 'delayed frames arrive out of place');

  const reorder = await through({ seed: 5, reorder: p, direction: 'tx' }, input);
  // A frame is held when drawn and the slot is free (the one before was not held): a fraction p / (1 + p).
  near(t, reorder.stats.faults.tx.reordered, N, p / (1 + p), 'reorder');
  t.is(reorder.sent.length, N);
  let swaps = 0;
  for (let i = 1; i < N; i++) if (frameId(reorder.sent[i]!) === frameId(reorder.sent[i - 1]!) - 1) swaps++;
  t.is(swaps, reorder.stats.faults.tx.reordered, 'each reordered frame is swapped with the next');
});

test('changing one rate does not change which frames the other faults hit', async (t) => {
  const input = frames(3000, 100);
  const alone = await through({ seed: 11, corrupt: 0.2, direction: 'tx' }, input);
  const withDrops = await through({ seed: 11, corrupt: 0.2, drop: 0.3, direction: 'tx' }, input);
  // Align each output with its input (drops only remove frames; a corruption changes one byte).
  const align = (sent: Uint8Array[]) => {
    const corrupted = new Set<number>();
    const present = new Set<number>();
    let i = 0;
    for (const f of sent) {
      while (differingBytes(f, input[i]!) > 1) i++;
      present.add(i);
      if (differingBytes(f, input[i]!) === 1) corrupted.add(i);
      i++;
    }
    return { corrupted, present };
  };
  const without = align(alone.sent);
  const withD = align(withDrops.sent);
  t.is(without.present.size, input.length);
  t.is(withD.present.size, input.length - withDrops.stats.faults.tx.dropped);
  t.true(without.corrupted.size > 400 && withD.corrupted.size > 250);
  t.deepEqual(
    [...withD.corrupted],
    [...without.corrupted].filter((i) => withD.present.has(i)),
    'the frames corrupted with drops on are exactly those corrupted without them, less the dropped',
  );
});

test('reorder at rate 1 swaps each frame with the next; a last frame held alone goes after reorderMs', async (t) => {
  const r = await through({ seed: 1, reorder: 1, reorderMs: 5, direction: 'tx' }, frames(5));
  t.deepEqual(r.sent.map(frameId), [1, 0, 3, 2, 4]);
  t.is(r.stats.faults.tx.reordered, 2);
});

test('delay holds frames for delayMs, then sends them in order; the held queue is bounded', async (t) => {
  const inner = new ProbePort();
  const f = faultInjector(inner, { seed: 1, delay: 1, delayMs: 20, maxHeld: 4, direction: 'tx' });
  const ok = frames(6).map((x) => f.send(x));
  t.deepEqual(ok, [true, true, true, true, false, false]);
  t.is(f.stats.dropped['queue-full'], 2);
  t.is(inner.sent.length, 0, 'nothing goes at once');
  t.is(f.holding, 4);
  await drained(f);
  t.deepEqual(inner.sent.map(frameId), [0, 1, 2, 3]);
  t.like(f.stats, { txFrames: 4 });
  t.is(f.stats.faults.tx.delayed, 4);
  await f.close();
});

test.serial(
  'close drops what is held (counted), clears the one timer and closes the inner port',
  async (t) => {
    const timers = activeTimers();
    const inner = new ProbePort();
    const f = faultInjector(inner, { seed: 1, delay: 1, delayMs: 60_000 });
    for (const x of frames(3)) f.send(x);
    for (const x of frames(2)) inner.inject(x);
    t.is(f.holding, 5);
    t.is(activeTimers(), timers + 1, 'one timer for both directions');
    await f.close();
    await f.close();
    t.is(activeTimers(), timers);
    t.is(f.stats.dropped.closed, 5);
    t.true(inner.closed);
    t.false(f.send(frames(1)[0]!));
    t.is(f.stats.dropped.closed, 6);
  },
);

test('frames that arrive with no receiver are dropped as closed', async (t) => {
  const inner = new ProbePort();
  const f = faultInjector(inner, { seed: 1 });
  inner.inject(frames(1)[0]!);
  t.is(f.stats.dropped.closed, 1);
  await f.close();
});

test('the generator: the same seed gives the same sequence; values are uniform in [0, 1)', (t) => {
  const a = new Prng(12345);
  const b = new Prng(12345);
  const c = new Prng(12346);
  const xs = Array.from({ length: 1000 }, () => a.next());
  t.deepEqual(
    Array.from({ length: 1000 }, () => b.next()),
    xs,
  );
  t.notDeepEqual(
    Array.from({ length: 1000 }, () => c.next()),
    xs,
  );
  t.true(xs.every((x) => x >= 0 && x < 1));
  // Ten bins of 100 000 draws: chi-square with 9 degrees of freedom below 27.9 (p = 0.001).
  const bins = new Array<number>(10).fill(0);
  for (let i = 0; i < 100_000; i++) bins[Math.floor(a.next() * 10)]!++;
  const chi = bins.reduce((s, o) => s + (o - 10_000) ** 2 / 10_000, 0);
  t.true(chi < 27.9, `chi-square ${chi}`);
  t.true(Array.from({ length: 1000 }, () => a.below(3)).every((x) => x >= 0 && x < 3));
  const zero = new Prng(0); // seed 0 is a seed like any other
  t.is(new Set(Array.from({ length: 100 }, () => zero.nextU32())).size, 100);
});
