// Two cores: a booted machine with no traffic sleeps. The device thread, the driver,
// a stand-in netd and two clients, all up and bound, measured over 5 s: under 2% of
// one core for the whole process (every thread in it counts).

import test from 'ava';
import { withMachine } from '../helpers/machine.ts';

test('an idle booted machine uses under 2% of one core, measured over 5 s', (t) =>
  withMachine(t, async (r) => {
    const a = await r.client();
    const b = await r.client();
    await r.open(a, 7000);
    await r.open(b, 8000);
    // Let start-up work (bundles, JIT, first polls) settle first.
    await new Promise((res) => setTimeout(res, 1500));
    const before = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((res) => setTimeout(res, 5000));
    const used = process.cpuUsage(before);
    const share = (used.user + used.system) / 1000 / (performance.now() - t0);
    t.log(`CPU over 5 s: ${(share * 100).toFixed(2)}% of one core`);
    t.true(share < 0.02, `${(share * 100).toFixed(2)}% of one core`);
  }));
