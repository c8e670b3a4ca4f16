// The driver's tx_done backlog for a client whose ring is full: in order, bounded, and
// without an allocation per report.
import test from 'ava';
import fc from 'fast-check';
import { TX_DONE_BACKLOG, TxDoneBacklog } from '../../actors/e1000n/sessions.ts';

test('property: the backlog is a FIFO of (pbuf, error) pairs, as a plain queue is, up to its bound', (t) => {
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.tuple(fc.constant('push' as const), fc.nat(), fc.nat(20)),
          fc.constant(['shift'] as const),
        ),
        {
          maxLength: 3000,
        },
      ),
      (ops) => {
        const q = new TxDoneBacklog();
        const model: [number, number][] = [];
        for (const op of ops) {
          if (op[0] === 'push') {
            const ok = q.push(op[1], op[2]);
            if (ok) model.push([op[1], op[2]]);
            if (ok !== model.length <= TX_DONE_BACKLOG) return false;
          } else if (q.size > 0) {
            const [p, e] = model.shift()!;
            if (q.frontPbuf !== p || q.frontErr !== e) return false;
            q.shift();
          }
          if (q.size !== model.length) return false;
        }
        return true;
      },
    ),
    { seed: 7, numRuns: 200 },
  );
  t.pass(); // fc.assert throws on a counterexample
});

test('a client that never reads: the backlog stops at its bound and refuses the rest', (t) => {
  const q = new TxDoneBacklog();
  let refused = 0;
  for (let i = 0; i < TX_DONE_BACKLOG + 5000; i++) if (!q.push(i, 0)) refused++;
  t.is(q.size, TX_DONE_BACKLOG);
  t.is(refused, 5000);
  t.is(q.frontPbuf, 0, 'the oldest report is still first');
  q.clear();
  t.is(q.size, 0);
  t.true(q.push(1, 2));
  t.deepEqual([q.frontPbuf, q.frontErr], [1, 2]);
});
