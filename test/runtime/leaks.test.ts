// Many actors up and down: after shutdown no thread, port or timer of fishnet's is left.
import test from 'ava';
import { Runtime } from '../../runtime/index.ts';
import { activeHandles, fixture, handlesAfter } from '../helpers/runtime.ts';

test.serial('200 actors spawned, bound, monitored and shut down leave nothing behind', async (t) => {
  const before = activeHandles();
  const rt = new Runtime({ prestart: 2 });
  const refs = [];
  for (let batch = 0; batch < 10; batch++) {
    refs.push(
      ...(await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          rt.spawn({
            module: fixture('behave'),
            name: `n${batch * 20 + i}`,
            args: { service: `s${batch * 20 + i}` },
          }),
        ),
      )),
    );
  }
  t.is(refs.length, 200);
  t.true(refs.every((r) => r.state === 'running'));
  const bindings = await Promise.all(refs.slice(0, 50).map((_r, i) => rt.lookup(`s${i}`)));
  const ids = await Promise.all(bindings.map((b) => b.request('ping')));
  t.deepEqual(
    ids,
    refs.slice(0, 50).map((r) => r.id),
  );
  const monitors = refs.map((r) => rt.monitor(r));
  t.is(rt.stats().actors, 200);
  await rt.shutdown();
  const downs = await Promise.all(monitors.map((m) => m.down));
  t.true(downs.every((d) => d.reason.kind === 'shutdown'));
  t.deepEqual(rt.stats(), { actors: 0, monitors: 0, bindings: 0, idleThreads: 0 });
  t.deepEqual(await handlesAfter(before), before, 'no worker, port or timer left');
});

test.serial(
  'a runtime that was never used shuts down clean, with and without prestarted threads',
  async (t) => {
    const before = activeHandles();
    for (const prestart of [0, 3]) {
      const rt = new Runtime({ prestart });
      await rt.shutdown();
    }
    t.deepEqual(await handlesAfter(before), before);
  },
);
