// What a connection may cost is bounded: the port transport has a credit window (a
// full window makes a one-way send return false, writable() waits for credit), a
// peer that ignores it is cut off, the server's policy caps ring sizes, and an rpc
// can time out.
import test from 'ava';
import { CREDIT_WINDOW } from '../../runtime/binding/binding.ts';
import type { ActorRef, ApiOf, FishnetError } from '../../runtime/index.ts';
import type SinkActor from '../fixtures/actors/sink.ts';
import { check } from '../fixtures/actors/streamer.ts';
import { type StreamServer, stream } from '../fixtures/protocols/generated/stream.ts';
import { eventually, fixture, withRuntime } from '../helpers/runtime.ts';

type Sink = ActorRef<ApiOf<typeof SinkActor>>;

test('port transport: a window of unconsumed frames, then false; writable() waits; nothing is lost', (t) =>
  withRuntime(t, async (rt) => {
    const sink = (await rt.spawn({ module: fixture('sink'), args: { service: 's' } })) as Sink;
    const c = await rt.connect(stream, 's'); // the port transport
    // Block the sink's thread so that it consumes nothing.
    const gate = new SharedArrayBuffer(8);
    const w = new Int32Array(gate);
    await sink.api.stallOn(gate);
    t.true(await eventually(() => Atomics.load(w, 1) === 1));
    let accepted = 0;
    while (c.tx.item(accepted, check(accepted))) accepted++;
    t.is(accepted, CREDIT_WINDOW, 'exactly one window is accepted');
    t.false(c.tx.item(accepted, check(accepted)));
    t.true(c.stats.busy >= 2);
    let ready = false;
    const waiting = c.writable().then(() => {
      ready = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    t.false(ready, 'writable() waits while the peer consumes nothing');
    Atomics.store(w, 0, 1);
    Atomics.notify(w, 0);
    await waiting;
    // Send the rest, waiting whenever the window is full.
    const total = CREDIT_WINDOW * 5;
    for (let i = accepted; i < total; i++) while (!c.tx.item(i, check(i))) await c.writable();
    t.true(await eventually(async () => (await sink.api.counts()).next === total));
    t.deepEqual(await sink.api.counts(), { next: total, errors: 0, items: total, tagged: 0 });
  }));

test('a peer that posts past its credit has the excess dropped and counted, then is cut off', (t) =>
  withRuntime(t, async (rt) => {
    let received = 0;
    let server: StreamServer | undefined;
    rt.serve(stream, 'victim', (s) => {
      server = s;
      s.rx.item = () => {
        received++;
      };
    });
    // A sender that ignores the protocol: raw frames, as fast as it can, in one turn
    // (so that the victim hands back no credit in between).
    const c = await rt.connect(stream, 'victim');
    for (let i = 0; i < CREDIT_WINDOW * 3; i++) c.binding.port.postMessage([8, 0, 0, i, check(i)]);
    t.true(await eventually(() => server !== undefined && !server.isOpen), 'the victim ended the binding');
    t.is(received, CREDIT_WINDOW, 'what the credit allowed was delivered');
    t.true((server!.stats.malformedBy['over credit'] ?? 0) >= CREDIT_WINDOW);
  }));

test('requests never drop: past the window they wait for credit, in order', (t) =>
  withRuntime(t, async (rt) => {
    await rt.spawn({ module: fixture('sink'), args: { service: 's' } });
    const c = await rt.connect(stream, 's');
    const n = CREDIT_WINDOW * 3;
    const replies = await Promise.all(Array.from({ length: n }, (_, i) => c.rpc.ping(i)));
    t.deepEqual(
      replies.map((r) => r.y),
      Array.from({ length: n }, (_, i) => i + 1),
    );
    t.true(c.binding.stats.queued > 0, 'some calls waited for credit');
  }));

test("the server's ring policy decides what a connection may cost", (t) =>
  withRuntime(t, async (rt) => {
    rt.serve(stream, 'default', () => {});
    rt.serve(stream, 'small', () => {}, { ring: { capacity: 64, maxCapacity: 256 } });
    const d = await rt.connect(stream, 'default', { transport: 'shm' });
    t.is((d as unknown as { out: { capacity: number } }).out.capacity, 1024);
    const big = (await rt
      .connect(stream, 'default', { transport: 'shm', capacity: 1 << 16 })
      .catch((e) => e)) as FishnetError;
    t.is(big.errName, 'RT_ERR_OVER_LIMIT');
    t.regex(big.message, /'default' allows rings of at most 4096 slots; the client asked for 65536/);
    const s = await rt.connect(stream, 'small', { transport: 'shm' });
    t.is((s as unknown as { out: { capacity: number } }).out.capacity, 64);
    t.is(
      (
        (await rt
          .connect(stream, 'small', { transport: 'shm', capacity: 512 })
          .catch((e) => e)) as FishnetError
      ).errName,
      'RT_ERR_OVER_LIMIT',
    );
    t.throws(() => rt.serve(stream, 'bad', () => {}, { ring: { maxCapacity: 3 } }), {
      message: /ring\.maxCapacity must be a power of two/,
    });
    t.throws(() => rt.serve(stream, 'bad', () => {}, { ring: { capacity: 1 << 20 } }), {
      message: /ring\.capacity must be a power of two in 2\.\.4096/,
    });
    t.is(rt.stats().bindings, 2, 'the refused connects left no binding');
  }));

test('an rpc with a time-out rejects with RT_ERR_TIMEOUT when the server never answers', (t) =>
  withRuntime(t, async (rt) => {
    await rt.spawn({ module: fixture('sink'), args: { service: 's', hangPing: true } });
    for (const transport of ['port', 'shm'] as const) {
      const c = await rt.connect(stream, 's', { transport });
      c.rpcTimeoutMs = 50;
      const e = (await c.rpc.ping(1).catch((x) => x)) as FishnetError;
      t.is(e.errName, 'RT_ERR_TIMEOUT');
      t.regex(e.message, /stream\.ping to s.* got no answer within 50 ms/);
      t.is(c.binding.pending.size, 0, 'the timed-out call is forgotten');
      t.throws(
        () => {
          c.rpcTimeoutMs = Number.NaN;
        },
        { message: /rpcTimeoutMs must be a number of milliseconds >= 0 .*, not NaN/ },
      );
    }
  }));
