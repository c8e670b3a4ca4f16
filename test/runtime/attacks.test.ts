// What a reviewer found by attacking the runtime, each kept as a test: an actor using
// the raw primitives its code can reach (its control port, its bindings' ports, its
// management port, its rings) must not crash, hang, leak or grow the other side.
import test from 'ava';
import type { ActorRef, ApiOf, FishnetError } from '../../runtime/index.ts';
import type EvilActor from '../fixtures/actors/evil.ts';
import { stream } from '../fixtures/protocols/generated/stream.ts';
import { eventually, fixture, withRuntime } from '../helpers/runtime.ts';

type Evil = ActorRef<ApiOf<typeof EvilActor>>;
const evil = fixture('evil');

test('a notify with half a million arguments is dropped; a host handler that throws is counted, not fatal', (t) =>
  withRuntime(t, async (rt) => {
    let served: import('../../runtime/index.ts').Binding | undefined;
    let calls = 0;
    rt.export('host-plain', (b) => {
      served = b;
      b.handle('log', (entry: { text: string }) => {
        calls++;
        return entry.text.length; // throws on a peer's null
      });
      b.handle('echo', (x: unknown) => x);
    });
    const e = (await rt.spawn({ module: evil })) as Evil;
    await e.api.lookup('host-plain', 'h');
    await e.api.postOn('h', [0, 'log', new Array(500_000)]);
    await e.api.postOn('h', [0, 'log', [null]]);
    const original = console.error;
    console.error = () => {};
    try {
      t.true(await eventually(() => (served?.stats.malformedBy['bad notify'] ?? 0) === 1));
      t.true(await eventually(() => served!.stats.handlerErrors === 1));
    } finally {
      console.error = original;
    }
    t.is(calls, 1);
    t.true(served!.isOpen);
    // The embedding program is alive, and so is the binding.
    const good = await rt.lookup('host-plain');
    t.is(await good.request('echo', 3), 3);
  }));

test('ports moved on the control channel, the management port and hidden in binding frames are all closed', (t) =>
  withRuntime(t, async (rt) => {
    rt.export('host-plain', (b) => b.handle('echo', (x: unknown) => x));
    const e = (await rt.spawn({ module: evil })) as Evil;
    await e.api.lookup('host-plain', 'h');
    // Control channel: in events and requests the kernel ignores or answers.
    await e.api.ctlPost({ t: 'ev', op: 'nothing', arg: { x: 0 } }, 'arg.x');
    await e.api.ctlPost({ t: 'ev', op: 'pong', arg: { x: 0 } }, 'arg.x');
    await e.api.ctlPost({ t: 'req', id: 99, op: 'whereis', arg: { name: 'x', p: 0 } }, 'arg.p');
    await e.api.ctlPost({ t: 'res', id: 12345, ok: true, value: { p: 0 } }, 'value.p');
    // Management port.
    await e.api.armSpy();
    await e.api.mgmtPostPort();
    // Binding frames: deep, in a Map, in a Set, only in the transfer list, in a goodbye
    // (last: it ends the binding), and in a valid notify to a method nobody handles.
    await e.api.postOn('h', [3, 424242, [[[[[{ deep: 0 }]]]]]], [2, 0, 0, 0, 0, 0, 'deep'] as never);
    await e.api.postOnMap('h', 'map');
    await e.api.postOnMap('h', 'set');
    await e.api.postOnMap('h', 'unreferenced');
    await e.api.postOnMap('h', 'valid-notify-nohandler');
    await e.api.postOnMap('h', 'bye');
    t.true(
      await eventually(async () => {
        const p = await e.api.ports();
        return p.sent === 11 && p.closed === 11;
      }),
      JSON.stringify(await e.api.ports()),
    );
  }));

test('a forged unbind does not leave the other side waiting: it is told the binding closed', (t) =>
  withRuntime(t, async (rt) => {
    const e = (await rt.spawn({ module: evil, args: { exportPlain: 'ev' } })) as Evil;
    const b = await rt.lookup('ev');
    const pending = b.request('never');
    const [id] = await e.api.servedIds();
    await e.api.unbind(id!);
    t.deepEqual(await b.closed, { kind: 'closed', by: 'peer' });
    t.regex(String(await pending.catch((x) => x)), /RT_ERR_BINDING_CLOSED/);
    t.is(rt.tables().hostBindings, 0);
  }));

test('a peer that never hands credit back cannot grow the outbox past a window', (t) =>
  withRuntime(t, async (rt) => {
    let served: import('../../runtime/index.ts').Binding | undefined;
    rt.export('host-plain', (b) => {
      served = b;
      b.handle('echo', (x: unknown) => x);
    });
    const e = (await rt.spawn({ module: evil })) as Evil;
    await e.api.lookup('host-plain', 'h');
    // It stalls once this side stops granting: the call never finishes on its own.
    void e.api.floodRequests('h', 5000, 10).catch(() => {});
    const outbox = () => (served as unknown as { outbox: unknown[] } | undefined)?.outbox.length ?? 0;
    t.true(await eventually(() => outbox() >= 1024));
    await new Promise((r) => setTimeout(r, 300));
    // A window it was granted before the backlog, and a window of backlog: no more.
    t.true(outbox() <= 2 * 1024, `outbox: ${outbox()}`);
    await e.kill();
  }));

test("a server whose onConnect never returns: the client's lookup times out, and no binding is left", (t) =>
  withRuntime(t, async (rt) => {
    await rt.spawn({ module: evil, args: { hangConnect: 'trap' } });
    const e = (await rt.lookup('trap', { timeoutMs: 300 }).catch((x) => x)) as FishnetError;
    t.is(e.errName, 'RT_ERR_TIMEOUT');
    t.is(rt.tables().bindings, 0);
  }));

test('a peer that sets its ring CLOSED word ends the binding (counted) rather than pinning the reader', (t) =>
  withRuntime(t, async (rt) => {
    const e = (await rt.spawn({ module: evil, args: { serveStream: 'es' } })) as Evil;
    const c = await rt.connect(stream, 'es', { transport: 'shm' });
    await e.api.setWord(0, 'tx', 34, 1);
    t.true(await eventually(() => !c.isOpen));
    t.is(c.stats.malformedBy['ring closed by the peer'], 1);
  }));

test('a start() that never returns does not stop shutdown', async (t) => {
  const { Runtime } = await import('../../runtime/index.ts');
  const rt = new Runtime({ prestart: 0 });
  const sup = await rt.supervise({ name: 'app', children: [{ id: 'good', module: fixture('behave') }] });
  const hanging = sup.startChild({ id: 'hanger', module: fixture('hang-start') }).catch((x) => x);
  await new Promise((r) => setTimeout(r, 300));
  await rt.shutdown();
  // Killed while starting, or refused because the tree was already stopping.
  t.regex(((await hanging) as FishnetError).errName, /RT_ERR_SPAWN_ABORTED|RT_ERR_RUNTIME_STOPPED/);
  t.deepEqual(rt.stats(), { actors: 0, monitors: 0, bindings: 0, idleThreads: 0 });
});

test('a management call answered with a Comlink proxy rejects; nothing unguarded reaches the program', (t) =>
  withRuntime(t, async (rt) => {
    const e = (await rt.spawn({ module: evil })) as Evil;
    await e.api.armSpy();
    const r = (await (e.manage({ timeoutMs: 1000 }).trap() as Promise<unknown>).catch(
      (x) => x,
    )) as FishnetError;
    t.is(r.errName, 'RT_ERR_BAD_MESSAGE');
    t.regex(r.message, /answered with a proxy, not data/);
  }));

test('an actor has quotas in the kernel: waiting lookups and monitors past them are refused', (t) =>
  withRuntime(t, async (rt) => {
    const e = (await rt.spawn({ module: evil })) as Evil;
    await e.api.ctlFlood(1100, 'lookup', { name: 'never', timeoutMs: Infinity });
    t.true(await eventually(() => rt.tables().lookupWaiters === 1000), `${rt.tables().lookupWaiters}`);
    await e.kill();
    t.is(rt.tables().lookupWaiters, 0);
  }));

test('a flood of garbage past the credit window ends the binding', (t) =>
  withRuntime(t, async (rt) => {
    let served: import('../../runtime/index.ts').Binding | undefined;
    rt.export('host-plain', (b) => {
      served = b;
    });
    const e = (await rt.spawn({ module: evil })) as Evil;
    await e.api.lookup('host-plain', 'h');
    await e.api.nullFlood('h', 200, null, 3 * 1024); // three credit windows at least
    t.true(await eventually(() => served !== undefined && !served.isOpen));
    t.true(served!.stats.malformedBy['over credit']! >= 1024);
  }));

test('a time-out beyond what a timer holds (2^31 ms) means for ever, not at once', (t) =>
  withRuntime(t, async (rt) => {
    let settled = false;
    const waiting = rt.lookup('later', { timeoutMs: 2 ** 31 }).then(
      () => (settled = true),
      () => (settled = true),
    );
    await new Promise((r) => setTimeout(r, 100));
    t.false(settled);
    rt.export('later', () => {});
    await waiting;
  }));
