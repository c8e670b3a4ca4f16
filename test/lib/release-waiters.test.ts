// ReleaseWaiters: a waiter resolves the moment its actor holds nothing, or false at
// its time-out; waiters are bounded, and closing answers every one.
import test from 'ava';
import { MAX_RELEASE_WAITERS, ReleaseWaiters } from '../../lib/release-waiters.ts';

test('resolves at once when nothing is held, on the release that empties the actor, false on time-out', async (t) => {
  const held = new Map<number, number>([[7, 2]]);
  const w = new ReleaseWaiters((a) => (held.get(a) ?? 0) > 0);
  t.true(await w.until(3, 1000), 'nothing held: at once');
  let settled: boolean | undefined;
  const p = w.until(7, 10_000).then((v) => {
    settled = v;
    return v;
  });
  held.set(7, 1);
  w.released(7);
  await Promise.resolve();
  t.is(settled, undefined, 'one of two still held');
  w.released(8); // another actor's release wakes no one of 7's
  held.set(7, 0);
  w.released(7);
  t.true(await p);
  t.is(w.size, 0);
  held.set(9, 1);
  t.false(await w.until(9, 5), 'still held when time ran out');
  t.is(w.size, 0, 'the timed-out waiter is gone, its timer cleared');
});

test('bad arguments are refused by name; waiters are bounded; close() answers them all with false', async (t) => {
  const w = new ReleaseWaiters(() => true);
  await t.throwsAsync(w.until(1.5, 10), { message: /actor must be an actor id, not 1.5/ });
  await t.throwsAsync(w.until(1, -1), { message: /timeoutMs must be a number of ms >= 0, not -1/ });
  await t.throwsAsync(w.until(1, '5' as never), { message: /timeoutMs must be/ });
  const all = Array.from({ length: MAX_RELEASE_WAITERS }, (_, i) => w.until(i, 60_000));
  await t.throwsAsync(w.until(1, 10), { message: new RegExp(`more than ${MAX_RELEASE_WAITERS}`) });
  w.close();
  t.deepEqual(new Set(await Promise.all(all)), new Set([false]));
  t.is(w.size, 0);
});
