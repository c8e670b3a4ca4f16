// The doorbell: many producers, one sleeper, no lost wake-up; a burst costs one notify.
import { Worker } from 'node:worker_threads';
import test from 'ava';
import { Doorbell } from '../../lib/shm/doorbell.ts';
import { ModuleLoader } from '../../runtime/loader.ts';
import type { Job } from './doorbell-worker.ts';

test('ring notifies only a sleeper that announced itself, once per sleep', (t) => {
  const w = new Int32Array(new SharedArrayBuffer(16));
  const bell = new Doorbell(w, 1);
  t.false(bell.ring(), 'awake: nothing to do');
  const seq = bell.prepare();
  t.true(bell.sleeping);
  t.true(bell.ring());
  t.false(bell.ring(), 'the second ringer of a burst does nothing');
  t.is(bell.wait(seq, 0), 'not-equal', 'the sleeper does not sleep: the sequence moved');
  const seq2 = bell.prepare();
  bell.cancel();
  t.false(bell.ring());
  t.is(bell.wait(seq2, 1), 'timed-out');
  t.false(bell.sleeping, 'waking clears the announcement');
  t.is(bell.notifies, 1);
  t.throws(() => new Doorbell(w, 3), { message: /outside 4 words/ });
});

test('waitAsync: rung from another task, and wake() whatever the announcement', async (t) => {
  const w = new Int32Array(new SharedArrayBuffer(8));
  const bell = new Doorbell(w, 0);
  const seq = bell.prepare();
  const keep = setTimeout(() => {}, 1000); // a pending waitAsync alone does not keep the loop alive
  setTimeout(() => bell.ring(), 5);
  t.is(await bell.waitAsync(seq), 'ok');
  const seq2 = bell.prepare();
  bell.cancel();
  setTimeout(() => bell.wake(), 5);
  t.is(await bell.waitAsync(seq2), 'ok');
  clearTimeout(keep);
});

test('three producer threads and a sleeping consumer: every item consumed, no wake-up lost', async (t) => {
  const url = await new ModuleLoader().standalone(new URL('./doorbell-worker.ts', import.meta.url));
  const sab = new SharedArrayBuffer(64);
  const items = 20_000;
  const start = (job: Job) =>
    new Promise<{ rings: number }>((resolve, reject) => {
      const worker = new Worker(
        `const { workerData, parentPort } = require('node:worker_threads');
         import(workerData.url).then((m) => parentPort.postMessage(m.default(workerData.job)));`,
        { eval: true, workerData: { url, job } },
      );
      worker.once('message', (m) => {
        resolve(m);
        void worker.terminate();
      });
      worker.once('error', reject);
    });
  const consumer = start({ role: 'consumer', sab, items: 3 * items, seed: 0 });
  const producers = [1, 2, 3].map((seed) => start({ role: 'producer', sab, items, seed }));
  const rings = (await Promise.all(producers)).reduce((n, r) => n + r.rings, 0);
  await consumer;
  const w = new Int32Array(sab);
  t.is(w[9], 3 * items, 'all consumed');
  t.is(w[10], 0, 'no wait timed out with work published');
  t.true(w[11]! > 0, 'the consumer did sleep');
  // A ringer may catch an announcement that the consumer then cancels (it found work):
  // so at most one notify per announcement, not per sleep.
  t.true(rings <= w[12]!, `notifies (${rings}) at most one per announcement (${w[12]})`);
});
