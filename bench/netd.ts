// The netd benchmark: the bind_port round trip (ownership checked, port taken,
// filters compiled and registered, answered) at p50 and p99; 32 clients binding at
// once; the time from a client's death to the last of its 1,000 ports freed and
// filters deregistered; and the receive rate with 10,000 ports open against one
// (the demux index must keep it flat). Results: bench/out/netd.json (--save: bench/results/).

import { Machine } from '../embed/machine.ts';
import { Network } from '../embed/network.ts';
import { type ActorRef, type ApiOf, Runtime } from '../runtime/index.ts';
import type NetdClientActor from './actors/netd-client.ts';
import { round, rxRate, setup, teardown } from './rig.ts';
import { summarize, writeResult } from './stats.ts';

const quick = process.argv.includes('--quick');
type NetdClient = ActorRef<ApiOf<typeof NetdClientActor>>;
const clientModule = new URL('./actors/netd-client.ts', import.meta.url);

async function machine(rt: Runtime, net: Network): Promise<Machine> {
  // One holder opens 10,000 ports here: past the default share of one client.
  return Machine.boot(rt, net, { name: 'nb', address: '10.0.0.2/24', portsPerClient: 65536 });
}

async function bindLatency() {
  const rt = new Runtime({ prestart: 0 });
  const net = new Network();
  const m = await machine(rt, net);
  try {
    const c = (await rt.spawn({ module: clientModule, args: { machine: 'nb' } })) as NetdClient;
    await c.api.bindLatency(200); // warm-up: JIT, caches
    const { bind, close } = await c.api.bindLatency(quick ? 1000 : 5000);
    return { bindUs: summarize(bind), closeUs: summarize(close) };
  } finally {
    await m.shutdown();
    await rt.shutdown();
    await net.close();
  }
}

async function concurrent(clients: number, each: number) {
  const rt = new Runtime({ prestart: 0 });
  const net = new Network();
  const m = await machine(rt, net);
  try {
    const cs = await Promise.all(
      Array.from({ length: clients }, () => rt.spawn({ module: clientModule, args: { machine: 'nb' } })),
    );
    const t0 = performance.now();
    await Promise.all(cs.map((c) => (c as NetdClient).api.openMany(each, 4)));
    const ms = performance.now() - t0;
    return {
      clients,
      portsEach: each,
      ms: round(ms),
      bindsPerSec: Math.round((clients * each) / (ms / 1000)),
    };
  } finally {
    await m.shutdown();
    await rt.shutdown();
    await net.close();
  }
}

async function cleanup(ports: number) {
  const rt = new Runtime({ prestart: 0 });
  const net = new Network();
  const m = await machine(rt, net);
  try {
    const netd = m.netd!;
    const runs: { fromKillMs: number; inNetdMs: number }[] = [];
    for (let r = 0; r < (quick ? 3 : 5); r++) {
      const c = (await rt.spawn({ module: clientModule, args: { machine: 'nb' } })) as NetdClient;
      await c.api.openMany(ports, 32);
      const t0 = performance.now();
      await c.kill();
      while ((await netd.api.portsOf(c.id)) > 0) await new Promise((res) => setImmediate(res));
      const fromKillMs = performance.now() - t0;
      const s = (await netd.api.statistics()) as { ports: { cleanups: { ports: number; ms: number }[] } };
      const last = s.ports.cleanups.at(-1)!;
      const driver = (await m.driver.api.statistics()) as { filters: { owner: number }[] };
      if (driver.filters.some((f) => f.owner === c.id))
        throw new Error('a filter of the dead client is left');
      runs.push({ fromKillMs: round(fromKillMs), inNetdMs: round(last.ms) });
    }
    const sorted = [...runs].sort((a, b) => a.fromKillMs - b.fromKillMs);
    return { ports, runs, medianFromKillMs: sorted[sorted.length >> 1]!.fromKillMs };
  } finally {
    await m.shutdown();
    await rt.shutdown();
    await net.close();
  }
}

/** The receive rate into one client with 1 port open on the machine, then with `many`. */
async function rxWithPorts(many: number) {
  const s = await setup(1, false, true);
  try {
    const frames = quick ? 200_000 : 600_000;
    // Three runs each, the median compared: one run alone varies by a third here.
    const median = async () => {
      await rxRate(s, 64, 20_000);
      const r = [];
      for (let i = 0; i < 3; i++) r.push((await rxRate(s, 64, frames)).perSec);
      return { median: [...r].sort((a, b) => a - b)[1]!, runs: r };
    };
    const one = await median();
    const holder = (await s.rt.spawn({ module: clientModule, args: { machine: 'bench' } })) as NetdClient;
    const openMs = await holder.api.openMany(many - 1, 32);
    const lots = await median();
    return {
      ports: many,
      openMs: round(openMs),
      rxPerSecWith1Port: one.median,
      rxPerSecWithManyPorts: lots.median,
      runsWith1Port: one.runs,
      runsWithManyPorts: lots.runs,
      ratio: round(lots.median / one.median),
    };
  } finally {
    await teardown(s);
  }
}

export async function netdBench() {
  const bind = await bindLatency();
  console.log('bind_port:', JSON.stringify(bind));
  const together = await concurrent(32, quick ? 50 : 200);
  console.log('32 clients at once:', JSON.stringify(together));
  const clean = await cleanup(1000);
  console.log('cleanup of 1000 ports:', JSON.stringify(clean));
  const rx = await rxWithPorts(10_000);
  console.log('rx with 10,000 ports:', JSON.stringify(rx));
  const result = {
    quick,
    bindPortP50Us: bind.bindUs.p50,
    bindPortP99Us: bind.bindUs.p99,
    cleanup1000PortsMs: clean.medianFromKillMs,
    rxRatio10000Ports: rx.ratio,
    targets: { bindPortP50UsAtMost: 200, cleanup1000PortsMsAtMost: 50, rxRatio10000PortsAtLeast: 0.7 },
    met: {
      bindPortP50UsAtMost: bind.bindUs.p50 <= 200,
      cleanup1000PortsMsAtMost: clean.medianFromKillMs <= 50,
      rxRatio10000PortsAtLeast: rx.ratio >= 0.7,
    },
    bind,
    concurrent: together,
    cleanup: clean,
    rx,
  };
  console.log(`wrote ${writeResult('netd', result)}`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await netdBench();
}
