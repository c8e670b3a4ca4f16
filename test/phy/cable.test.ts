// The cable: asynchronous, batched, copying, bounded, every drop counted.
import test from 'ava';
import { mac } from '../../lib/net/index.ts';
import { cable } from '../../lib/phy/index.ts';
import { collect, frameId, idFrame, settle } from './helpers.ts';

const A = mac('02:00:00:00:00:0a');
const B = mac('02:00:00:00:00:0b');

test('frames arrive in order, later (never inside send), as copies taken at send time', async (t) => {
  const [a, b] = cable();
  const got: number[] = [];
  let inSend = false;
  b.setReceiver((f) => {
    t.false(inSend, 'the receiver ran inside send');
    got.push(frameId(f));
  });
  const f = idFrame(B, A, 1);
  inSend = true;
  t.true(a.send(f));
  f.fill(0xee); // the caller reuses its buffer at once
  for (let i = 2; i <= 5; i++) t.true(a.send(idFrame(B, A, i)));
  inSend = false;
  t.deepEqual(got, []);
  t.is(a.inFlight, 5);
  await settle(a);
  t.deepEqual(got, [1, 2, 3, 4, 5]);
  t.like(a.stats, { txFrames: 5, txBytes: 300, rxFrames: 0 });
  t.like(b.stats, { rxFrames: 5, rxBytes: 300, txFrames: 0 });
  await a.close();
});

test('both directions are independent; the receiver sees the exact bytes', async (t) => {
  const [a, b] = cable({ name: 'patch' });
  t.is(a.name, 'patch.a');
  t.is(b.name, 'patch.b');
  const atA = collect(a);
  const atB = collect(b);
  const ab = idFrame(B, A, 7, 100);
  const ba = idFrame(A, B, 8, 64);
  a.send(ab);
  b.send(ba);
  await settle(a, b);
  t.deepEqual(atB, [ab]);
  t.deepEqual(atA, [ba]);
  await b.close();
});

test('a full queue drops and counts (queue-full); room comes back once the far end drains', async (t) => {
  const [a, b] = cable({ capacity: 4 });
  const got = collect(b);
  const sent = [1, 2, 3, 4, 5, 6].map((i) => a.send(idFrame(B, A, i)));
  t.deepEqual(sent, [true, true, true, true, false, false]);
  t.is(a.stats.dropped['queue-full'], 2);
  await settle(a);
  t.deepEqual(got.map(frameId), [1, 2, 3, 4]);
  t.true(a.send(idFrame(B, A, 9)));
  await settle(a);
  t.is(got.length, 5);
  await a.close();
});

test('lengths: runts are carried (a test injects them), frames past maxFrame are dropped as bad-length', async (t) => {
  const [a, b] = cable({ maxFrame: 100 });
  const got = collect(b);
  t.true(a.send(new Uint8Array(0)));
  t.true(a.send(new Uint8Array(5)));
  t.true(a.send(new Uint8Array(100)));
  t.false(a.send(new Uint8Array(101)));
  t.is(a.stats.dropped['bad-length'], 1);
  await settle(a);
  t.deepEqual(
    got.map((f) => f.length),
    [0, 5, 100],
  );
  await a.close();
});

test('a frame that arrives with no receiver is dropped as closed at the receiving end', async (t) => {
  const [a, b] = cable();
  a.send(idFrame(B, A, 1));
  await settle(a);
  t.is(b.stats.dropped.closed, 1);
  t.is(b.stats.rxFrames, 0);
  const got = collect(b);
  a.send(idFrame(B, A, 2));
  await settle(a);
  t.is(got.length, 1);
  b.setReceiver(undefined);
  a.send(idFrame(B, A, 3));
  await settle(a);
  t.is(b.stats.dropped.closed, 2);
  await a.close();
});

test('close unplugs both ends: queued frames are counted lost, sends fail, nothing is delivered later', async (t) => {
  const [a, b] = cable();
  const got = collect(b);
  const back = collect(a);
  a.send(idFrame(B, A, 1));
  a.send(idFrame(B, A, 2));
  b.send(idFrame(A, B, 3));
  await b.close();
  await a.close(); // idempotent, from either end
  t.false(a.send(idFrame(B, A, 4)));
  t.false(b.send(idFrame(A, B, 5)));
  await settle(a, b);
  await new Promise((r) => setTimeout(r, 5));
  t.deepEqual(got, []);
  t.deepEqual(back, []);
  t.is(b.stats.dropped.closed, 2 + 1, 'two lost in flight towards b, one send refused at b');
  t.is(a.stats.dropped.closed, 1 + 1, 'one lost towards a, one send refused at a');
  t.is(a.inFlight + b.inFlight, 0);
});

test('a receiver that sends back (an echo loop) neither re-enters nor starves the event loop', async (t) => {
  const [a, b] = cable({ capacity: 8 });
  let depth = 0;
  let maxDepth = 0;
  const echo = (port: typeof a) => (f: Uint8Array) => {
    depth++;
    maxDepth = Math.max(maxDepth, depth);
    port.send(f);
    depth--;
  };
  a.setReceiver(echo(a));
  b.setReceiver(echo(b));
  for (let i = 0; i < 8; i++) a.send(idFrame(B, A, i));
  // While frames bounce for ever, timers still run: this polling timer fires between
  // batches (a loop that starved the event loop would never let the test end).
  while (a.stats.rxFrames < 1000 || b.stats.rxFrames < 1000) await new Promise((r) => setTimeout(r, 1));
  t.is(maxDepth, 1);
  await a.close();
  const sent = a.stats.txFrames + b.stats.txFrames;
  const accounted = a.stats.rxFrames + b.stats.rxFrames + a.stats.dropped.closed + b.stats.dropped.closed;
  t.is(accounted, sent, 'every frame sent was received or counted lost at close');
});

test('options are checked, naming the option and the value', (t) => {
  t.throws(() => cable({ capacity: 0 }), { instanceOf: RangeError, message: /option 'capacity'.* not 0/ });
  t.throws(() => cable({ capacity: 1.5 }), { instanceOf: RangeError, message: /'capacity'.*1\.5/ });
  t.throws(() => cable({ maxFrame: Number.NaN }), { instanceOf: RangeError, message: /'maxFrame'.*NaN/ });
  t.throws(() => cable({ capacity: '8' as never }), { instanceOf: TypeError, message: /'capacity'.*"8"/ });
  t.throws(() => cable({ name: 3 as never }), { instanceOf: TypeError, message: /'name'/ });
  t.throws(() => cable({ capcity: 3 } as never), {
    instanceOf: TypeError,
    message: /unknown option 'capcity'/,
  });
  t.throws(() => cable(7 as never), { instanceOf: TypeError, message: /options must be an object/ });
});
