// The example applications on two machines: udp-echo answers (on port 7, with the
// netd-priv grant), and udp-traffic's generator and sink count what went and what
// came, with loss found from the sequence numbers and matched by the drops the
// path counted.
import test from 'ava';
import type UdpEcho from '../../actors/apps/udp-echo.ts';
import type UdpTraffic from '../../actors/apps/udp-traffic.ts';
import type { ApiOf } from '../../runtime/index.ts';
import { eventually, withTwoMachines } from './network.ts';

const ECHO = new URL('../../actors/apps/udp-echo.ts', import.meta.url);
const TRAFFIC = new URL('../../actors/apps/udp-traffic.ts', import.meta.url);

test.serial('udp-echo on port 7 answers every datagram to where it came from', (t) =>
  withTwoMachines(t, async (n) => {
    // Without the netd-priv grant, port 7 is refused and the actor does not start.
    const refused = await t.throwsAsync(n.spawn(ECHO, { machine: 'm2', port: 7 }));
    t.regex(String(refused?.message), /EACCES/);
    const echo = await n.spawn<ApiOf<typeof UdpEcho>>(ECHO, { machine: 'm2', port: 7 }, n.m2, true);
    t.deepEqual(await echo.api.address(), { address: '0.0.0.0', family: 'IPv4', port: 7 });
    const p = await n.peer(n.m1);
    const s = await p.api.create();
    t.deepEqual(await p.api.bindTo(s, 4000), { ok: true });
    const sizes = [1, 100, 1472, 1473, 9000];
    for (const [i, size] of sizes.entries()) {
      const data = new Uint8Array(size).fill(i + 1);
      t.deepEqual(await p.api.send(s, data, 7, '10.1.0.2'), { bytes: size });
    }
    t.true(await eventually(async () => (await p.api.messages(s)).length === sizes.length));
    const got = await p.api.messages(s);
    for (const [i, size] of sizes.entries()) {
      const m = got.find((x) => x.data.length === size);
      t.truthy(m, `echo of ${size} bytes`);
      t.true(m!.data.every((b) => b === i + 1));
      t.deepEqual(m!.rinfo, { address: '10.1.0.2', family: 'IPv4', port: 7, size });
    }
    t.like(await echo.api.counters(), { received: 5, echoed: 5, bytes: 12046, errors: 0, sendErrors: {} });
    // udp-traffic's generator pointed at the echo: every datagram comes back, with its round trip.
    const gen = await n.spawn<ApiOf<typeof UdpTraffic>>(TRAFFIC, {
      machine: 'm1',
      generate: { address: '10.1.0.2', port: 7, size: 64, count: 50, rate: 1000 },
    });
    await gen.api.done();
    t.true(await eventually(async () => (await gen.api.counters()).generator.replies === 50));
    const g = (await gen.api.counters()).generator;
    t.is(g.rttUs?.samples, 50);
    t.true(g.rttUs!.p50 > 0 && g.rttUs!.p50 <= g.rttUs!.p99);
  }),
);

test.serial(
  'udp-traffic: a paced generator loses nothing; a flat-out one is counted, and every loss the sink sees was counted on the way',
  (t) =>
    withTwoMachines(t, async (n) => {
      // More pbufs than the paced run sends: a sink a loaded machine leaves unscheduled a while still loses nothing.
      const sink = await n.spawn<ApiOf<typeof UdpTraffic>>(TRAFFIC, {
        machine: 'm2',
        sink: { port: 9000 },
        rxPbufs: 1024,
      });
      const gen = await n.spawn<ApiOf<typeof UdpTraffic>>(TRAFFIC, {
        machine: 'm1',
        generate: { address: '10.1.0.2', port: 9000, size: 200, rate: 2000, count: 600, flow: 1 },
      });
      await gen.api.done();
      t.true(await eventually(async () => (await sink.api.counters()).sink.received === 600, 10_000));
      const paced = (await sink.api.counters()).sink.flows[0]!;
      t.like(paced, { flow: 1, received: 600, bytes: 120_000, lost: 0, duplicates: 0, highest: 599 });
      const g = (await gen.api.counters()).generator;
      t.like(g, { sent: 600, bytes: 120_000, sendErrors: {} });
      // Paced at 2000/s: 600 datagrams take about 0.3 s (the machine is shared: only a loose bound).
      t.true(g.elapsedMs >= 250, `paced: ${g.elapsedMs} ms`);

      // As fast as the stack takes them: the sink cannot keep up, and every datagram
      // it misses was dropped and counted on the way (the sending NIC's link, the
      // receiving NIC's link queue, the device, the driver for want of a pbuf, the
      // sink's stack): nothing is lost silently.
      await gen.api.generate({ address: '10.1.0.2', port: 9000, size: 64, count: 5000, flow: 2 });
      const sent = (await gen.api.counters()).generator;
      t.like(sent, { sent: 5600, sendErrors: {} });
      t.deepEqual((await gen.api.stats()).link.txFailed, {}, "the driver sent all of the generator's frames");
      const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
      const counted = async () => {
        const drv = (await n.m2.m.driver.api.statistics()) as {
          device: { missedPackets: number };
          clients: { name: string; rxDropped: Record<string, number> }[];
        };
        const sinkClient = drv.clients.find((c) => c.name.startsWith('udp-traffic'))!;
        return {
          senderWire: n.m1.m.nic.stats().wireDropped + sum(n.m1.m.nic.port.stats.dropped),
          switch: sum(n.net.stats.dropped),
          receiverLink: sum(n.m2.m.nic.port.stats.dropped),
          device: drv.device.missedPackets,
          driver: sum(sinkClient.rxDropped),
          stack: sum((await sink.api.stats()).stack.dropped),
        };
      };
      const flow2 = async () => (await sink.api.counters()).sink.flows.find((x) => x.flow === 2);
      const total = async () => ((await flow2())?.received ?? 0) + sum(await counted());
      t.true(await eventually(async () => (await total()) >= 5000, 10_000));
      const fast = (await flow2())!;
      const c = await counted();
      t.log(
        `flat out: ${sent.perSecond.toFixed(0)} datagrams/s sent in ${(sent.elapsedMs / 1000).toFixed(2)} s; the sink got ${fast.received} (${fast.perSecond.toFixed(0)}/s); dropped and counted: ${JSON.stringify(c)}`,
      );
      t.is(fast.received + sum(c), 5000, 'received + counted drops = sent');
      t.true(fast.received > 0);
      t.is(fast.duplicates, 0);
      t.true(fast.lost <= 5000 - fast.received, "the sink's gaps are among the drops");
    }),
);
