// Memory stays bounded in a long-running program: each operation, run many times,
// leaves every kernel table (and the actor's own) at the size it found it. Entries
// are counted, not bytes.
import test from 'ava';
import type { ActorRef, ApiOf } from '../../runtime/index.ts';
import type BehaveActor from '../fixtures/actors/behave.ts';
import type WatcherActor from '../fixtures/actors/watcher.ts';
import { stream } from '../fixtures/protocols/generated/stream.ts';
import { eventually, fixture, withRuntime } from '../helpers/runtime.ts';

test('management calls: none is left in flight after it settles', (t) =>
  withRuntime(t, async (rt) => {
    const a = (await rt.spawn({ module: fixture('behave') })) as ActorRef<ApiOf<typeof BehaveActor>>;
    for (let round = 0; round < 4; round++) {
      await Promise.all(Array.from({ length: 500 }, () => a.api.self()));
      await Promise.all(Array.from({ length: 100 }, () => a.manage({ timeoutMs: 5000 }).self()));
      t.is(rt.tables().managementCalls, 0, `round ${round}`);
    }
    // A call that times out leaves nothing either.
    await t.throwsAsync(a.manage({ timeoutMs: 10 }).hang(), { message: /RT_ERR_TIMEOUT/ });
    t.is(rt.tables().managementCalls, 0);
  }));

test('the watchdog holds one timer per actor however long it runs', (t) =>
  withRuntime(t, async (rt) => {
    await rt.spawn({ module: fixture('behave'), watchdog: { intervalMs: 2, timeoutMs: 5000 } });
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 40));
      t.true(rt.tables().processTimers <= 1, `timers: ${rt.tables().processTimers}`);
    }
  }));

test('monitors: every delivered DOWN leaves the monitor tables as they were', (t) =>
  withRuntime(t, async (rt) => {
    const w = (await rt.spawn({ module: fixture('watcher') })) as ActorRef<ApiOf<typeof WatcherActor>>;
    const before = rt.tables();
    for (let round = 0; round < 3; round++) {
      const target = await rt.spawn({ module: fixture('behave') });
      await w.api.monitorMany(target.id, 200);
      for (let i = 0; i < 50; i++) rt.monitor(target);
      t.is(rt.tables().monitors, before.monitors + 250);
      await target.kill();
      t.true(await eventually(async () => (await w.api.downs()).length === 200 * (round + 1)));
      t.is(rt.tables().monitors, before.monitors);
      t.is(rt.tables().monitorIndex, before.monitorIndex);
    }
  }));

test('a dead actor stops waiting for names: its lookup waiters go with it', (t) =>
  withRuntime(t, async (rt) => {
    for (let i = 0; i < 10; i++) {
      const w = (await rt.spawn({ module: fixture('watcher') })) as ActorRef<ApiOf<typeof WatcherActor>>;
      await w.api.waitForever('never');
      await w.api.waitForever('never-either');
      t.true(await eventually(() => rt.tables().lookupWaiters === 2));
      await w.kill();
      t.is(rt.tables().lookupWaiters, 0);
    }
  }));

test('a refused connection leaves no binding open, in the server actor or in the kernel', (t) =>
  withRuntime(t, async (rt) => {
    const server = await rt.spawn({ module: fixture('hostile'), args: { refuse: 'closed' } });
    for (let i = 0; i < 100; i++) {
      const transport = i % 2 === 0 ? 'shm' : 'port';
      const e = await rt.connect(stream, 'closed', { transport }).catch((x) => x);
      t.regex(String(e), /not you/);
    }
    t.deepEqual(await rt.actorTables(server), { bindings: 0, open: 0, services: 1, monitors: 0 });
    t.is(rt.tables().bindings, 0);
    t.is(rt.tables().hostBindings, 0);
  }));
