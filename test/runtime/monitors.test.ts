// Monitors: one DOWN per monitor, exactly once, also for late monitors.
import test from 'ava';
import type { Down } from '../../runtime/index.ts';
import type BehaveActor from '../fixtures/actors/behave.ts';
import type WatcherActor from '../fixtures/actors/watcher.ts';
import { eventually, fatal, fixture, withRuntime } from '../helpers/runtime.ts';

test('every monitor, host and actors alike, gets exactly one DOWN with the reason', (t) =>
  withRuntime(t, async (rt) => {
    const target = await rt.spawn<typeof BehaveActor>({ module: fixture('behave'), name: 'target' });
    const w1 = await rt.spawn<typeof WatcherActor>({ module: fixture('watcher') });
    const w2 = await rt.spawn<typeof WatcherActor>({ module: fixture('watcher') });
    const hostDowns: Down[] = [];
    const m1 = rt.monitor(target, (d) => hostDowns.push(d));
    const m2 = rt.monitor('target', (d) => hostDowns.push(d));
    const r1 = await w1.api.monitor(target.id);
    const r2 = await w2.api.monitor('target');
    const r3 = await w2.api.monitor(target.id); // monitoring twice: two monitors
    await fatal(target.api.crash());
    const d1 = await m1.down;
    t.is(d1.id, target.id);
    t.is(d1.name, 'target');
    t.is(d1.reason.kind, 'error');
    t.is((await m2.down).ref, m2.ref);
    t.true(
      await eventually(
        async () => (await w2.api.downs()).length === 2 && (await w1.api.downs()).length === 1,
      ),
    );
    await new Promise((r) => setTimeout(r, 50)); // nothing more arrives
    t.deepEqual(
      (await w1.api.downs()).map((d) => d.ref),
      [r1],
    );
    t.deepEqual((await w2.api.downs()).map((d) => d.ref).sort(), [r2, r3].sort());
    t.is(hostDowns.length, 2);
    t.true((await w1.api.downs()).every((d) => d.id === target.id && d.reason.kind === 'error'));
  }));

test('a monitor set after death (or on an unknown actor) gets DOWN noproc at once', (t) =>
  withRuntime(t, async (rt) => {
    const a = await rt.spawn<typeof BehaveActor>({ module: fixture('behave'), name: 'short-lived' });
    await a.kill();
    const late = await rt.monitor(a).down;
    t.deepEqual(late.reason, { kind: 'noproc' });
    t.is(late.id, a.id);
    t.is(late.name, 'short-lived');
    t.deepEqual((await rt.monitor('nobody').down).reason, { kind: 'noproc' });
    const w = await rt.spawn<typeof WatcherActor>({ module: fixture('watcher') });
    const ref = await w.api.monitor(a.id);
    t.true(await eventually(async () => (await w.api.downs()).length === 1));
    const [d] = await w.api.downs();
    t.is(d!.ref, ref);
    t.deepEqual(d!.reason, { kind: 'noproc' });
  }));

test('demonitor: no DOWN for that monitor, the others still get theirs', (t) =>
  withRuntime(t, async (rt) => {
    const target = await rt.spawn<typeof BehaveActor>({ module: fixture('behave') });
    const w = await rt.spawn<typeof WatcherActor>({ module: fixture('watcher') });
    const cancelled = await w.api.monitor(target.id);
    const kept = await w.api.monitor(target.id);
    await w.api.demonitor(cancelled);
    const host = rt.monitor(target);
    const hostCancelled = rt.monitor(target);
    let fired = false;
    hostCancelled.down.then(() => {
      fired = true;
    });
    rt.demonitor(hostCancelled.ref);
    await target.kill();
    await host.down;
    t.true(await eventually(async () => (await w.api.downs()).length === 1));
    await new Promise((r) => setTimeout(r, 50));
    t.deepEqual(
      (await w.api.downs()).map((d) => d.ref),
      [kept],
    );
    t.false(fired);
  }));

test('the monitors an actor holds end with it', (t) =>
  withRuntime(t, async (rt) => {
    const target = await rt.spawn({ module: fixture('behave') });
    const w = await rt.spawn<typeof WatcherActor>({ module: fixture('watcher') });
    await w.api.monitor(target.id);
    t.is(rt.stats().monitors, 1);
    await w.kill();
    t.is(rt.stats().monitors, 0);
  }));

test('monitoring the embedding program or a non-actor is refused', (t) =>
  withRuntime(t, async (rt) => {
    t.throws(() => rt.monitor(0), { message: /embedding program cannot be monitored/ });
    t.throws(() => rt.monitor({} as never), { message: /id, name or ActorRef/ });
  }));
