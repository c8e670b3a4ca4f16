// The two transports under load and under faults: no loss, duplication or reordering;
// back-pressure; the peer's death; malformed input from a peer.
import test from 'ava';
import { Err, FishnetError } from '../../runtime/index.ts';
import type SinkActor from '../fixtures/actors/sink.ts';
import type StreamerActor from '../fixtures/actors/streamer.ts';
import { check } from '../fixtures/actors/streamer.ts';
import { type StreamClient, type StreamServer, stream } from '../fixtures/protocols/generated/stream.ts';
import { eventually, fixture, withRuntime } from '../helpers/runtime.ts';

for (const [transport, n] of [
  ['shm', 2_000_000],
  ['port', 100_000],
] as const) {
  test.serial(
    `${n} messages between two threads over ${transport}: none lost, duplicated or reordered`,
    (t) =>
      withRuntime(t, async (rt) => {
        const sink = await rt.spawn<typeof SinkActor>({ module: fixture('sink'), args: { service: 'sink' } });
        const producer = await rt.spawn<typeof StreamerActor>({
          module: fixture('streamer'),
          args: { service: 'sink', transport },
        });
        // Every 1000th message goes on the port (it carries a capability): order must hold across both.
        const { stats } = await producer.api.run(n, 1000);
        t.true(await eventually(async () => (await sink.api.counts()).next === n, 30_000));
        const counts = await sink.api.counts();
        t.deepEqual(counts, { next: n, errors: 0, items: n - n / 1000, tagged: n / 1000 });
        if (transport === 'shm') {
          t.is(stats.viaRing, n - n / 1000);
          t.log(`${stats.busy} sends found the ring full; ${stats.doorbells} doorbells for ${n} messages`);
        }
      }),
  );
}

test('back-pressure: a full ring refuses sends (TX_BUSY), writable() waits for room, nothing is lost', (t) =>
  withRuntime(t, async (rt) => {
    const sink = await rt.spawn<typeof SinkActor>({ module: fixture('sink'), args: { service: 'sink' } });
    const c = await rt.connect(stream, 'sink', { transport: 'shm', capacity: 4 });
    const gate = new SharedArrayBuffer(8);
    const g = new Int32Array(gate);
    // Not awaited: the reply may only leave once the sink runs again.
    const stalled = sink.api.stallOn(gate);
    t.true(await eventually(() => Atomics.load(g, 1) === 1));
    for (let i = 0; i < 4; i++) t.true(c.tx.item(i, check(i)), `slot ${i}`);
    t.false(c.tx.item(4, check(4)), 'the fifth send finds the ring full');
    t.is(c.stats.busy, 1);
    let ready = false;
    const room = c.writable().then(() => {
      ready = true;
    });
    await new Promise((r) => setTimeout(r, 50));
    t.false(ready, 'no room while the consumer is stalled');
    Atomics.store(g, 0, 1);
    Atomics.notify(g, 0);
    await room;
    for (let i = 4; i < 1000; i++) while (!c.tx.item(i, check(i))) await c.writable();
    t.true(await eventually(async () => (await sink.api.counts()).next === 1000));
    t.is((await sink.api.counts()).errors, 0);
    await stalled;
  }));

for (const transport of ['port', 'shm'] as const) {
  test(`the peer dies (${transport}): pending rpcs reject with RT_ERR_PEER_DIED, sends throw`, (t) =>
    withRuntime(t, async (rt) => {
      const sink = await rt.spawn<typeof SinkActor>({
        module: fixture('sink'),
        args: { service: 's', hangPing: true },
      });
      const c = await rt.connect(stream, 's', { transport });
      const pending = c.rpc.ping(1).then(
        () => undefined,
        (e: unknown) => e,
      );
      await new Promise((r) => setTimeout(r, 20));
      await sink.kill();
      const e = await pending;
      t.true(e instanceof FishnetError);
      t.is((e as FishnetError).errName, 'RT_ERR_PEER_DIED');
      t.deepEqual((e as FishnetError).data, { kind: 'killed', cause: 'kill' });
      t.throws(() => c.tx.item(1, 2), { message: /RT_ERR_PEER_DIED/ });
      await t.throwsAsync(c.rpc.ping(2), { message: /RT_ERR_PEER_DIED/ });
      t.deepEqual(await c.binding.closed, { kind: 'peer-died', reason: { kind: 'killed', cause: 'kill' } });
    }));
}

test('the peer dies while we wait for room on a full ring: writable() rejects', (t) =>
  withRuntime(t, async (rt) => {
    const sink = await rt.spawn<typeof SinkActor>({ module: fixture('sink'), args: { service: 's' } });
    const c = await rt.connect(stream, 's', { transport: 'shm', capacity: 2 });
    const gate = new SharedArrayBuffer(8);
    const stalled = sink.api.stallOn(gate).catch(() => 'dead');
    t.true(await eventually(() => Atomics.load(new Int32Array(gate), 1) === 1));
    while (c.tx.item(0, check(0)));
    const waiting = c.writable().then(
      () => 'room',
      (e: Error) => e.message,
    );
    await sink.kill();
    t.regex(await waiting, /RT_ERR_PEER_DIED/);
    await stalled;
  }));

test('arguments that do not fit their types are refused before sending, naming the argument', (t) =>
  withRuntime(t, async (rt) => {
    await rt.spawn({ module: fixture('sink'), args: { service: 's' } });
    for (const transport of ['port', 'shm'] as const) {
      const c = await rt.connect(stream, 's', { transport });
      const e = t.throws(() => c.tx.item(-1, 0)) as FishnetError;
      t.is(e.errName, 'FLOUNDER_ERR_BAD_ARGUMENT');
      t.regex(e.message, /stream\.item: argument seq = -1 does not fit uint32/);
      t.throws(() => c.tx.item(2 ** 32, 0), { message: /seq = 4294967296/ });
      t.throws(() => c.tx.item('7' as never, 0), { message: /seq = "7"/ });
      t.throws(() => c.tx.tagged(1, new ArrayBuffer(8) as never), { message: /region .* does not fit cap/ });
      await t.throwsAsync(c.rpc.ping(1.5), { message: /ping: argument x = 1.5 does not fit uint32/ });
      t.is(c.stats.sent, 0);
    }
  }));

test('malformed input from a peer is dropped and counted, never crashes the receiver', (t) =>
  withRuntime(t, async (rt) => {
    let server: StreamServer | undefined;
    const items: number[] = [];
    rt.serve(stream, 'local', (s) => {
      server = s;
      s.rx.item = (seq) => items.push(seq);
      s.rpc.ping = (x) => ({ y: x });
    });
    const c = (await rt.connect(stream, 'local', { transport: 'shm' })) as StreamClient & { w: Int32Array };
    // A peer that writes its ring by hand: an unknown message code, then a valid item.
    const raw = c as unknown as { reserve(): number; commit(at: number, code: number): void; w: Int32Array };
    let at = raw.reserve();
    raw.commit(at, 999);
    t.true(c.tx.item(5, 0));
    // A port frame with the wrong argument types, and one with an unknown code.
    c.binding.post([8, 2, 0, 'five', 0], undefined);
    c.binding.post([8, 2, 4242], undefined);
    t.true(c.tx.item(6, 0));
    // An rpc call whose argument does not fit: the caller is told, not left waiting.
    at = raw.reserve();
    raw.w[at + 2] = 77;
    raw.w[at + 3] = 1;
    raw.commit(at, 3 * 4 + 1);
    t.deepEqual(await c.rpc.ping(3), { y: 3 });
    // Frames posted by hand bypass the sender's ordering counters, so they may arrive
    // after the ring slots sent later: wait for everything rather than for the reply.
    t.true(await eventually(() => server!.stats.received === 7));
    t.deepEqual(items, [5, 6]);
    t.is(server!.stats.malformed, 3);
    t.is(server!.stats.received, 7);
    // A ring whose indices were corrupted (more published than it holds) ends the binding.
    Atomics.store(raw.w, 16, Atomics.load(raw.w, 16) + 5000);
    Atomics.add(raw.w, 33, 1);
    Atomics.notify(raw.w, 33);
    t.true(await eventually(() => !server!.isOpen));
    t.is(server!.stats.malformed, 4);
  }));

test('a reply that does not fit its out-types becomes FLOUNDER_ERR_BAD_ARGUMENT for the caller', (t) =>
  withRuntime(t, async (rt) => {
    rt.serve(stream, 'liar', (s) => {
      s.rpc.ping = () => ({ y: -5 });
    });
    const c = await rt.connect(stream, 'liar');
    const original = console.error;
    console.error = () => {};
    try {
      const e = (await t.throwsAsync(c.rpc.ping(1))) as FishnetError;
      t.is(e.code, Err.FLOUNDER_ERR_BAD_ARGUMENT);
    } finally {
      console.error = original;
    }
  }));

test('interface mismatch and transport errors are refused at bind time', (t) =>
  withRuntime(t, async (rt) => {
    const { kitchen } = await import('../fixtures/protocols/generated/kitchen.ts');
    await rt.spawn({ module: fixture('sink'), args: { service: 's' } });
    await t.throwsAsync(rt.connect(kitchen, 's'), {
      message: /RT_ERR_INTERFACE_MISMATCH.*exported as stream/,
    });
    await t.throwsAsync(rt.lookup('s'), { message: /RT_ERR_INTERFACE_MISMATCH/ });
    await t.throwsAsync(rt.connect(stream, 's', { transport: 'udp' as never }), {
      message: /transport must be/,
    });
    await t.throwsAsync(rt.connect(stream, 's', { transport: 'shm', capacity: 1000 }), {
      message: /capacity must be a power of two/,
    });
    rt.export('plain', () => {});
    await t.throwsAsync(rt.connect(stream, 'plain'), { message: /RT_ERR_INTERFACE_MISMATCH.*no interface/ });
    t.is(rt.stats().bindings, 0);
  }));
