// Supervisors with OTP's meanings: restart types, strategies, intensity, escalation, shutdown order.
import test from 'ava';
import type { ActorRef, RuntimeEvent, SupervisorRef } from '../../runtime/index.ts';
import type BehaveActor from '../fixtures/actors/behave.ts';
import { readLog } from '../fixtures/actors/behave.ts';
import { eventually, fatal, fixture, withRuntime } from '../helpers/runtime.ts';

const behave = fixture('behave');
type Behave = ActorRef<import('../../runtime/index.ts').ApiOf<typeof BehaveActor>>;

function actor(s: SupervisorRef, id: string): Behave {
  return s.child(id) as Behave;
}

async function restartedFrom(s: SupervisorRef, id: string, old: Behave): Promise<Behave> {
  let now: Behave | undefined;
  const ok = await eventually(() => {
    now = actor(s, id);
    return now !== undefined && now.id !== old.id && now.state === 'running';
  });
  if (!ok) throw new Error(`child ${id} was not restarted`);
  return now!;
}

test('one_for_one: a crashed permanent child is restarted alone, with a new id', (t) =>
  withRuntime(t, async (rt) => {
    const sup = await rt.supervise({
      name: 'sup',
      strategy: 'one_for_one',
      intensity: 3,
      children: [
        { id: 'a', module: behave },
        { id: 'b', module: behave },
      ],
    });
    const a = actor(sup, 'a');
    const b = actor(sup, 'b');
    t.is(a.name, 'sup/a');
    await fatal(a.api.crash());
    const a2 = await restartedFrom(sup, 'a', a);
    t.is(a2.name, 'sup/a');
    t.is(actor(sup, 'b'), b, 'the sibling is untouched');
    t.is(b.state, 'running');
  }));

test('restart types: transient only after an abnormal exit, temporary never', (t) =>
  withRuntime(t, async (rt) => {
    const sup = await rt.supervise({
      name: 'types',
      intensity: 5,
      children: [
        { id: 'transient-normal', module: behave, restart: 'transient' },
        { id: 'transient-crash', module: behave, restart: 'transient' },
        { id: 'temporary', module: behave, restart: 'temporary' },
      ],
    });
    const tn = actor(sup, 'transient-normal');
    const tc = actor(sup, 'transient-crash');
    const tmp = actor(sup, 'temporary');
    await fatal(tn.api.exit());
    await fatal(tc.api.crash());
    await fatal(tmp.api.crash());
    await restartedFrom(sup, 'transient-crash', tc);
    await tn.exited;
    await tmp.exited;
    await new Promise((r) => setTimeout(r, 100));
    const children = sup.whichChildren();
    t.deepEqual(
      children.map((c) => [c.id, c.actorId === undefined]),
      [
        ['transient-normal', true],
        ['transient-crash', false],
      ],
      'the transient child that exited normally stays down; the temporary one is gone',
    );
  }));

test('one_for_all: every sibling is stopped and all start again in order', (t) =>
  withRuntime(t, async (rt) => {
    const log = new SharedArrayBuffer(1024);
    const sup = await rt.supervise({
      name: 'all',
      strategy: 'one_for_all',
      intensity: 3,
      children: ['a', 'b', 'c'].map((id) => ({ id, module: behave, args: { log } })),
    });
    const [a, b, c] = ['a', 'b', 'c'].map((id) => actor(sup, id));
    await fatal(b!.api.crash());
    const a2 = await restartedFrom(sup, 'a', a!);
    const c2 = await restartedFrom(sup, 'c', c!);
    const b2 = await restartedFrom(sup, 'b', b!);
    t.deepEqual(readLog(log), ['all/c', 'all/a'], 'siblings stopped in reverse start order');
    t.true(a2.id < b2.id && b2.id < c2.id, 'restarted in start order');
  }));

test('rest_for_one: the children started after the failed one restart with it', (t) =>
  withRuntime(t, async (rt) => {
    const sup = await rt.supervise({
      name: 'rest',
      strategy: 'rest_for_one',
      intensity: 3,
      children: ['a', 'b', 'c'].map((id) => ({ id, module: behave })),
    });
    const [a, b, c] = ['a', 'b', 'c'].map((id) => actor(sup, id));
    await fatal(b!.api.crash());
    await restartedFrom(sup, 'b', b!);
    await restartedFrom(sup, 'c', c!);
    t.is(actor(sup, 'a'), a, 'the child before the failed one is untouched');
  }));

test('restart intensity: past N restarts in the period the supervisor gives up and escalates', (t) =>
  withRuntime(t, async (rt) => {
    const events: RuntimeEvent[] = [];
    rt.on('event', (e) => events.push(e));
    const outer = await rt.supervise({
      name: 'outer',
      intensity: 0, // the outer supervisor will not restart the inner one
      children: [
        { id: 'sibling', module: behave },
        {
          id: 'inner',
          type: 'supervisor',
          intensity: 2,
          periodMs: 60_000,
          children: [{ id: 'flaky', module: behave }],
        },
      ],
    });
    const inner = outer.child('inner') as SupervisorRef;
    for (let i = 0; i < 3; i++) {
      const f = actor(inner, 'flaky');
      await fatal(f.api.crash());
      await f.exited;
      if (i < 2) await restartedFrom(inner, 'flaky', f);
    }
    t.deepEqual(await inner.exited, { kind: 'restart-intensity', restarts: 3, periodMs: 60_000 });
    t.deepEqual(await outer.exited, { kind: 'restart-intensity', restarts: 1, periodMs: 5000 });
    const giveUps = events
      .filter((e) => e.type === 'give-up')
      .map((e) => (e as { supervisor: string }).supervisor);
    t.deepEqual(giveUps, ['outer/inner', 'outer']);
    t.is(events.filter((e) => e.type === 'restart').length, 2);
    t.is(rt.whereis('outer/sibling'), undefined, 'the outer supervisor stopped its children when it gave up');
  }));

test('a root that gives up stops the runtime: done resolves with restart-intensity', (t) =>
  withRuntime(
    t,
    async (rt) => {
      const a = await rt.spawn<typeof BehaveActor>({ module: behave, name: 'p', restart: 'permanent' });
      const other = await rt.spawn({ module: behave, name: 'bystander' });
      await fatal(a.api.crash());
      const b = await (async () => {
        await eventually(() => rt.whereis('p') !== undefined && rt.whereis('p')!.id !== a.id);
        return rt.whereis('p') as Behave;
      })();
      await fatal(b.api.crash());
      t.deepEqual(await rt.done, { kind: 'restart-intensity', restarts: 2, periodMs: 60_000 });
      t.is(other.state, 'dead');
    },
    // A long period: however slow a loaded machine makes the restarts, both fall within it.
    { intensity: 1, periodMs: 60_000 },
  ));

test('a failing restart counts as a restart; the supervisor gives up instead of looping', (t) =>
  withRuntime(t, async (rt) => {
    const events: RuntimeEvent[] = [];
    rt.on('event', (e) => events.push(e));
    const sup = await rt.supervise({
      name: 'broken',
      intensity: 3,
      periodMs: 60_000, // however slow the restarts, the fourth crash falls within it
      // The child crashes 30 ms after every start.
      children: [{ id: 'c', module: behave, args: { crashAfterMs: 30 } }],
    });
    const reason = await sup.exited;
    t.is(reason.kind, 'restart-intensity');
    t.is(events.filter((e) => e.type === 'restart').length, 3);
  }));

test('initial start failure: the supervisor does not start, started children are stopped', (t) =>
  withRuntime(t, async (rt) => {
    const e = await t.throwsAsync(
      rt.supervise({
        name: 'bad-start',
        children: [
          { id: 'ok', module: behave },
          { id: 'fails', module: behave, args: { startThrows: true } },
        ],
      }),
    );
    t.regex(e!.message, /RT_ERR_START_FAILED/);
    t.is(rt.whereis('bad-start/ok'), undefined);
    t.is(rt.stats().actors, 0);
  }));

test('shutdown stops the tree in reverse start order, depth first', (t) => {
  const log = new SharedArrayBuffer(1024);
  return withRuntime(t, async (rt) => {
    await rt.spawn({ module: behave, name: 'first', args: { log } });
    await rt.supervise({
      name: 'tree',
      children: [
        { id: 'x', module: behave, args: { log } },
        { id: 'sub', type: 'supervisor', children: [{ id: 'y', module: behave, args: { log } }] },
        { id: 'z', module: behave, args: { log } },
      ],
    });
    await rt.spawn({ module: behave, name: 'last', args: { log } });
    await rt.shutdown();
    t.deepEqual(readLog(log), ['last', 'tree/z', 'tree/sub/y', 'tree/x', 'first']);
  });
});

test('terminateChild, restartChild, deleteChild and bad child specs', (t) =>
  withRuntime(t, async (rt) => {
    const sup = await rt.supervise({ name: 'ops', children: [{ id: 'a', module: behave }] });
    const a = actor(sup, 'a');
    await sup.terminateChild('a');
    t.deepEqual(a.exitReason, { kind: 'shutdown' });
    t.is(sup.child('a'), undefined);
    const a2 = (await sup.restartChild('a')) as Behave;
    t.is(a2.state, 'running');
    await t.throwsAsync(sup.deleteChild('a'), { message: /is running/ });
    await sup.terminateChild('a');
    await sup.deleteChild('a');
    t.deepEqual(sup.whichChildren(), []);
    await t.throwsAsync(sup.terminateChild('nope'), { message: /RT_ERR_NOPROC/ });
    await t.throwsAsync(sup.startChild({ id: 'x', module: behave, restart: 'often' as never }), {
      message: /RT_ERR_BAD_SPEC.*restart/,
    });
    await t.throwsAsync(rt.supervise({ name: 's2', strategy: 'one_for_some' as never }), {
      message: /strategy/,
    });
    await t.throwsAsync(
      rt.supervise({
        name: 's3',
        children: [
          { id: 'd', module: behave },
          { id: 'd', module: behave },
        ],
      }),
      { message: /duplicate child id 'd'/ },
    );
  }));

for (const strategy of ['one_for_all', 'rest_for_one'] as const) {
  test(`${strategy}: a start that fails once costs one more restart, not the subtree`, (t) =>
    withRuntime(t, async (rt) => {
      const events: RuntimeEvent[] = [];
      rt.on('event', (e) => events.push(e));
      const once = new SharedArrayBuffer(4);
      const sup = await rt.supervise({
        name: strategy,
        strategy,
        intensity: 3,
        children: [
          { id: 'a', module: behave },
          { id: 'b', module: behave },
          { id: 'c', module: behave, args: { failOnce: once } },
        ],
      });
      const [a, b, c] = ['a', 'b', 'c'].map((id) => actor(sup, id));
      Atomics.store(new Int32Array(once), 0, 1); // c's next start fails, once
      await fatal(b!.api.crash());
      // b restarts, then c fails to start: the retry must stop what the failed try started (b) first.
      t.true(await eventually(() => events.some((e) => e.type === 'restart' || e.type === 'give-up')));
      const b2 = actor(sup, 'b')!;
      const c2 = actor(sup, 'c')!;
      t.not(b2.id, b!.id);
      t.not(c2.id, c!.id);
      t.is(Atomics.load(new Int32Array(once), 0), 2, "c's start failed once");
      t.is(events.filter((e) => e.type === 'start-failed').length, 1);
      t.is(events.filter((e) => e.type === 'restart').length, 1);
      t.is(events.filter((e) => e.type === 'give-up').length, 0, 'the supervisor did not give up');
      t.is(b2.state, 'running');
      t.is(c2.state, 'running');
      if (strategy === 'rest_for_one') t.is(actor(sup, 'a'), a, 'a started before b: untouched');
      else t.not(actor(sup, 'a')!.id, a!.id, 'one_for_all restarts a too');
      t.true(sup.whichChildren().every((ch) => ch.actorId !== undefined));
    }));
}
