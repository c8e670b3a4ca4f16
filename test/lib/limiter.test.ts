// The Limiter: never more than max in flight, every call run, in the order asked.
import test from 'ava';
import { Limiter } from '../../lib/limiter.ts';

test('at most max calls in flight; all run, in order; a failure frees its slot', async (t) => {
  const l = new Limiter(3);
  let now = 0;
  let most = 0;
  const order: number[] = [];
  const calls = Array.from({ length: 50 }, (_, i) =>
    l.run(async () => {
      order.push(i);
      now++;
      most = Math.max(most, now);
      await new Promise((r) => setTimeout(r, i % 4));
      now--;
      if (i === 7) throw new Error('seven');
      return i;
    }),
  );
  const results = await Promise.allSettled(calls);
  t.is(most, 3);
  t.deepEqual(
    order,
    Array.from({ length: 50 }, (_, i) => i),
  );
  t.is(results.filter((r) => r.status === 'rejected').length, 1);
  t.is(l.inFlight, 0);
  t.throws(() => new Limiter(0), { message: /max must be an integer >= 1, not 0/ });
});
