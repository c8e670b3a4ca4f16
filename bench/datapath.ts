// The datapath benchmark: frames from a link (a tap on the virtual switch) through
// the emulated e1000 and the e1000n driver into clients' pbufs; the same with every
// client echoing each frame back through its transmit filter; the round trip of one
// echoed frame; all for 1, 2, 8 and 32 clients; and, beside them in the same run,
// what a Node programmer would use instead: node:dgram over loopback between two
// processes. Results: bench/out/datapath.json and datapath.svg (--save: bench/results/).
import { writeFileSync } from 'node:fs';
import { nodeDgramOneWay } from './node-dgram.ts';
import { logLogPlot } from './plot.ts';
import { drops, ECHO_WINDOW, frames, grown, offer, rxRate, type Setup, setup, teardown } from './rig.ts';
import { resultPath, summarize, writeResult } from './stats.ts';

const quick = process.argv.includes('--quick');
const CLIENTS = quick ? [1, 2, 8, 32] : [1, 2, 8, 32];
const RX_FRAMES = quick ? 200_000 : 1_000_000;
const RTT_SAMPLES = quick ? 500 : 3000;

/** One frame out, its echo back: microseconds per round trip. */
async function echoRtt(s: Setup, size: 64 | 1500, samples: number) {
  const f = frames(s.m, 1, size)[0]!;
  let resolve: (() => void) | undefined;
  s.tap.setReceiver(() => resolve?.());
  const us: number[] = [];
  for (let i = 0; i < samples + 50; i++) {
    const back = new Promise<void>((r) => {
      resolve = r;
    });
    const t0 = performance.now();
    s.m.nic.port.send(f);
    await back;
    if (i >= 50) us.push((performance.now() - t0) * 1000);
  }
  s.tap.setReceiver(undefined);
  return summarize(us);
}

/** Echo throughput: frames/s that came back through the transmit filters onto the wire. */
async function echoRate(s: Setup, size: 64 | 1500, total: number) {
  let back = 0;
  s.tap.setReceiver(() => {
    back++;
  });
  const fs = frames(s.m, s.clients.length, size);
  for (const c of s.clients) await c.api.reset();
  const before = await drops(s);
  const t0 = performance.now();
  // In flight until its echo is back on the wire.
  await offer(s, fs, total, () => back, ECHO_WINDOW);
  let last = -1;
  while (back !== last) {
    last = back;
    await new Promise((r) => setTimeout(r, 50));
  }
  s.tap.setReceiver(undefined);
  const perSec = back / ((performance.now() - t0 - 50) / 1000);
  return {
    offered: total,
    echoed: back,
    dropped: {
      ...grown(before, await drops(s)),
      // The clients' own: no free transmit slot for the echo.
      ...(echoDropped(await Promise.all(s.clients.map((c) => c.api.counts()))) || {}),
    },
    perSec: Math.round(perSec),
    gbps: round((perSec * size * 8) / 1e9),
  };
}

const echoDropped = (counts: { echoDropped: number }[]) => {
  const n = counts.reduce((a, c) => a + c.echoDropped, 0);
  return n > 0 ? { 'client.echo.noTxSlot': n } : undefined;
};

const round = (x: number) => Math.round(x * 1000) / 1000;

export async function datapathBench() {
  const rx: Record<string, Record<number, unknown>> = { '64': {}, '1500': {} };
  const echo: Record<string, Record<number, unknown>> = { '64': {}, '1500': {} };
  const rtt: Record<number, unknown> = {};
  for (const n of CLIENTS) {
    const s = await setup(n, false);
    for (const size of [64, 1500] as const) {
      await rxRate(s, size, 20_000); // warm-up
      rx[size]![n] = await rxRate(s, size, size === 64 ? RX_FRAMES : RX_FRAMES / 4);
      console.log(`rx ${size} B, ${n} clients:`, JSON.stringify(rx[size]![n]));
    }
    await teardown(s);
    const e = await setup(n, true);
    for (const size of [64, 1500] as const) {
      await echoRate(e, size, 10_000);
      echo[size]![n] = await echoRate(e, size, (size === 64 ? RX_FRAMES : RX_FRAMES / 4) / 2);
      console.log(`echo ${size} B, ${n} clients:`, JSON.stringify(echo[size]![n]));
    }
    // One frame to the first client while the others' filters are registered too.
    rtt[n] = { '64': await echoRtt(e, 64, RTT_SAMPLES), '1500': await echoRtt(e, 1500, RTT_SAMPLES) };
    console.log(`rtt, ${n} clients:`, JSON.stringify(rtt[n]));
    await teardown(e);
  }
  const dgramTotal = quick ? 100_000 : 400_000;
  const dgram = {
    '64': await nodeDgramOneWay(18, dgramTotal, RTT_SAMPLES),
    '1500': await nodeDgramOneWay(1472, dgramTotal, RTT_SAMPLES),
  };
  console.log('node:dgram:', JSON.stringify(dgram));
  const per = (size: '64' | '1500', n: number) => (rx[size]![n] as { perSec: number }).perSec;
  const result = {
    quick,
    rx64PerSec: per('64', 2),
    rx1500Gbps: (rx['1500']![2] as { gbps: number }).gbps,
    nodeDgramPerSec: dgram['64'].perSec,
    echoRttP50Us: (rtt[2] as Record<string, { p50: number }>)['64']!.p50,
    echoRttP99Us: (rtt[2] as Record<string, { p99: number }>)['64']!.p99,
    nodeDgramRttP50Us: dgram['64'].rttUs.p50,
    rx32Over2: round(per('64', 32) / per('64', 2)),
    targets: {
      rx64PerSecAtLeast: 1_000_000,
      rx64OverNodeDgramAtLeast: 2,
      echoRttP50UsAtMost: 50,
      rx32Over2AtLeast: 0.5,
    },
    rx,
    echo,
    rtt,
    nodeDgram: dgram,
  };
  const colors = ['#2c3e50', '#c0392b', '#27ae60', '#8e44ad', '#d35400'];
  const svg = logLogPlot('frames/s delivered to clients, by number of clients', 'clients', 'frames/s', [
    { name: 'RX 64 B', color: colors[0]!, points: CLIENTS.map((n) => [n, per('64', n)]) },
    { name: 'RX 1500 B', color: colors[1]!, points: CLIENTS.map((n) => [n, per('1500', n)]) },
    {
      name: 'echo 64 B',
      color: colors[2]!,
      points: CLIENTS.map((n) => [n, (echo['64']![n] as { perSec: number }).perSec]),
    },
    {
      name: 'node:dgram 64 B',
      color: colors[3]!,
      dashed: true,
      points: CLIENTS.map((n) => [n, dgram['64'].perSec]),
    },
  ]);
  const svgPath = resultPath('datapath.svg');
  writeFileSync(svgPath, svg);
  console.log(`wrote ${writeResult('datapath', result)} and ${svgPath.pathname}`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await datapathBench();
}
