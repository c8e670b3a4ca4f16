// The switch's table against a model (a Map in least-recently-seen order): learning,
// moving, ageing, eviction and forgetting a port, in random orders, with tables small
// enough that probe runs collide and wrap and deletions shift entries back.
import test from 'ava';
import fc from 'fast-check';
import type { Mac } from '../../lib/net/index.ts';
import { MacTable } from '../../lib/phy/mac-table.ts';

type Op =
  | { readonly k: 'learn'; readonly mac: number; readonly port: number }
  | { readonly k: 'lookup'; readonly mac: number }
  | { readonly k: 'forget'; readonly port: number }
  | { readonly k: 'time'; readonly ms: number };

const split = (m: number) => [Math.floor(m / 2 ** 32), (m % 2 ** 32) | 0] as const;

test('property: MacTable agrees with a model under learn, lookup, ageing, eviction and forgetPort', (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 12 }),
      // Distinct MACs, some sharing their low or high halves.
      fc.uniqueArray(fc.integer({ min: 1, max: 2 ** 48 - 1 }), { minLength: 4, maxLength: 40 }),
      fc.array(
        fc.oneof(
          {
            weight: 6,
            arbitrary: fc.record({ k: fc.constant('learn' as const), mac: fc.nat(), port: fc.nat(3) }),
          },
          { weight: 4, arbitrary: fc.record({ k: fc.constant('lookup' as const), mac: fc.nat() }) },
          { weight: 1, arbitrary: fc.record({ k: fc.constant('forget' as const), port: fc.nat(3) }) },
          { weight: 2, arbitrary: fc.record({ k: fc.constant('time' as const), ms: fc.nat(60) }) },
        ),
        { maxLength: 300 },
      ),
      (max, macs, ops: Op[]) => {
        const AGE = 100;
        const table = new MacTable(max, AGE);
        const model = new Map<number, { port: number; seen: number }>();
        let now = 0;
        let aged = 0;
        let evicted = 0;
        const expireModel = () => {
          for (const [m, e] of model) {
            if (now - e.seen < AGE) break; // in seen order: the rest are younger
            model.delete(m);
            aged++;
          }
        };
        for (const op of ops) {
          if (op.k === 'time') now += op.ms;
          else if (op.k === 'forget') {
            let n = 0;
            for (const [m, e] of model) if (e.port === op.port && model.delete(m)) n++;
            t.is(table.forgetPort(op.port), n);
          } else if (op.k === 'learn') {
            const m = macs[op.mac % macs.length]!;
            const old = model.get(m);
            const want = old === undefined ? 'new' : old.port === op.port ? 'refreshed' : 'moved';
            if (old === undefined) {
              expireModel();
              if (model.size === max) {
                model.delete(model.keys().next().value!);
                evicted++;
              }
            }
            model.delete(m);
            model.set(m, { port: op.port, seen: now });
            const [hi, lo] = split(m);
            t.is(table.learn(hi, lo, op.port, now), want);
          } else {
            const m = macs[op.mac % macs.length]!;
            const e = model.get(m);
            let want = -1;
            if (e !== undefined && now - e.seen >= AGE) {
              model.delete(m);
              aged++;
            } else if (e !== undefined) want = e.port;
            const [hi, lo] = split(m);
            t.is(table.lookup(hi, lo, now), want);
          }
          t.is(table.size, model.size);
        }
        t.deepEqual(
          table.entries(now).map((e) => [e.mac, e.port]),
          [...model].map(([m, e]) => [m as Mac, e.port]),
        );
        t.is(table.aged, aged);
        t.is(table.evicted, evicted);
      },
    ),
    { seed: 0x7ab1e, numRuns: 300 },
  );
});
