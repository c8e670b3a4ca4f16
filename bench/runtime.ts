// Runtime benchmark: spawn latency, binding request round trip, Comlink management
// round trip, and DOWN latency (kill to DOWN at a monitor). Results: bench/results/runtime.json.
import { Runtime } from '../runtime/index.ts';
import type EchoActor from '../test/fixtures/actors/echo.ts';
import { type Summary, summarize, writeResult } from './stats.ts';

const echo = new URL('../test/fixtures/actors/echo.ts', import.meta.url);
const quick = process.argv.includes('--quick');
const N_SPAWN = quick ? 10 : 40;
const N_RTT = quick ? 2000 : 20000;

async function spawnLatency(prestart: number): Promise<Summary> {
  const rt = new Runtime({ prestart });
  try {
    // The first spawn builds the bundle; measure spawns of a module already seen.
    await (await rt.spawn({ module: echo, name: 'warm-up', args: { service: 'warm-up' } })).kill();
    const ms: number[] = [];
    for (let i = 0; i < N_SPAWN; i++) {
      // Let the pool refill between spawns, as it would between spawns in a real system.
      await new Promise((r) => setTimeout(r, prestart ? 120 : 10));
      const t0 = performance.now();
      const a = await rt.spawn({ module: echo, name: `s${i}`, args: { service: `s${i}` } });
      ms.push(performance.now() - t0);
      await a.kill();
    }
    return summarize(ms);
  } finally {
    await rt.shutdown();
  }
}

async function roundTrips(): Promise<{ request: Summary; comlink: Summary }> {
  const rt = new Runtime();
  try {
    const a = await rt.spawn<typeof EchoActor>({ module: echo });
    const b = await rt.lookup('echo');
    const us = (f: () => Promise<unknown>) => async () => {
      const out: number[] = [];
      for (let i = 0; i < 500; i++) await f(); // warm up
      for (let i = 0; i < N_RTT; i++) {
        const t0 = performance.now();
        await f();
        out.push((performance.now() - t0) * 1000);
      }
      return summarize(out);
    };
    const request = await us(() => b.request('echo', i32))();
    const comlink = await us(() => a.api.served())();
    return { request, comlink };
  } finally {
    await rt.shutdown();
  }
}
const i32 = 42;

async function downLatency(): Promise<{ host: Summary }> {
  const rt = new Runtime({ prestart: 1 });
  try {
    const ms: number[] = [];
    for (let i = 0; i < N_SPAWN; i++) {
      const a = await rt.spawn({ module: echo, name: `d${i}`, args: { service: `d${i}` } });
      const m = rt.monitor(a);
      const t0 = performance.now();
      void a.kill();
      await m.down;
      ms.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { host: summarize(ms) };
  } finally {
    await rt.shutdown();
  }
}

export async function runtimeBench(): Promise<unknown> {
  const cold = await spawnLatency(0);
  const warm = await spawnLatency(1);
  const rtt = await roundTrips();
  const down = await downLatency();
  const result = {
    units: { spawn: 'ms', request: 'µs', comlink: 'µs', down: 'ms' },
    spawn: { cold, prestart1: warm },
    requestRoundTrip: rtt.request,
    comlinkRoundTrip: rtt.comlink,
    downLatency: down.host,
    targets: { spawnP50Ms: 50, requestP50Us: 60, downP50Ms: 20 },
  };
  console.log(`wrote ${writeResult('runtime', result)}`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await runtimeBench(), null, 2));
}
