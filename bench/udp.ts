// The UDP benchmark: echo through fishnet's whole stack - a client on machine m1
// (lib/lwip's dgram socket), udp-echo on machine m2, each with its own driver and
// netd, over the virtual switch - beside node:dgram's echo over loopback between two
// processes, in the same run; and, where it can run (root, iproute2, ethtool), the
// Linux kernel as the client over VXLAN to a `fishnet up` machine. For 64 and 1,400
// byte datagrams: the round trip of one datagram at a time (p50, p99), and echoes a
// second with a window of datagrams in flight (the plot: by window).
// Results: bench/out/udp.json and udp.svg (--save: bench/results/).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createNetwork } from '../embed/fishnet.ts';
import { LinuxPeer } from '../embed/linux.ts';
import type { ActorRef, ApiOf } from '../runtime/index.ts';
import type Client from './actors/udp-echo-client.ts';
import type { EchoOptions } from './dgram-echo-client.ts';
import { nodeDgramEcho } from './node-dgram.ts';
import { logLogPlot } from './plot.ts';
import { resultPath, writeResult } from './stats.ts';

const quick = process.argv.includes('--quick');
const SIZES = [64, 1400] as const;
const WINDOWS = [1, 4, 16, 64];
const base: EchoOptions = quick
  ? { samples: 1000, total: 30_000, window: 64 }
  : { samples: 5000, total: 200_000, window: 64 };
const CLIENT = new URL('./actors/udp-echo-client.ts', import.meta.url);
const ECHO = new URL('../actors/apps/udp-echo.ts', import.meta.url);

type Echo = Awaited<ReturnType<typeof nodeDgramEcho>>;
const brief = (r: Echo) => ({
  perSec: r.perSec,
  rttP50Us: r.rttUs.p50,
  rttP99Us: r.rttUs.p99,
  lost: r.sent - r.received,
});

async function fishnetRuns() {
  const net = await createNetwork();
  try {
    const m1 = await net.boot({ name: 'm1', address: '10.0.0.1/24' });
    const m2 = await net.boot({ name: 'm2', address: '10.0.0.2/24' });
    await m2.spawn({ module: ECHO, args: { port: 7 }, lowPorts: true });
    const c = (await m1.spawn({ module: CLIENT })) as ActorRef<ApiOf<typeof Client>>;
    const bySize: Record<string, Echo> = {};
    for (const size of SIZES) {
      await c.api.echo('10.0.0.2', 7, size, { samples: 200, total: 5000, window: 16 }); // warm-up
      bySize[size] = await c.api.echo('10.0.0.2', 7, size, base);
      console.log(`fishnet ${size} B:`, JSON.stringify(brief(bySize[size]!)));
    }
    const byWindow: Record<number, number> = {};
    for (const window of WINDOWS) {
      byWindow[window] = (
        await c.api.echo('10.0.0.2', 7, 64, { samples: 0, total: base.total / 2, window })
      ).perSec;
    }
    console.log('fishnet 64 B by window:', JSON.stringify(byWindow));
    return { bySize, byWindow };
  } finally {
    await net.close();
  }
}

async function nodeRuns() {
  const bySize: Record<string, Echo> = {};
  for (const size of SIZES) {
    bySize[size] = await nodeDgramEcho(size, base);
    console.log(`node:dgram ${size} B:`, JSON.stringify(brief(bySize[size]!)));
  }
  const byWindow: Record<number, number> = {};
  for (const window of WINDOWS) {
    byWindow[window] = (await nodeDgramEcho(64, { samples: 0, total: base.total / 2, window })).perSec;
  }
  console.log('node:dgram 64 B by window:', JSON.stringify(byWindow));
  return { bySize, byWindow };
}

/** The Linux kernel as the client, over VXLAN, of udp-echo on a `fishnet up` machine. */
async function linuxRuns() {
  const why = LinuxPeer.cannotRun();
  if (why) {
    console.log(`linux: skipped (${why})`);
    return { skipped: why };
  }
  const peer = await LinuxPeer.create();
  try {
    const fish = await peer.fishnetUp(['--name', `udp-bench-${process.pid}`, '--app', 'udp-echo:7']);
    const client = fileURLToPath(new URL('./dgram-echo-client.ts', import.meta.url));
    const bySize: Record<string, Echo> = {};
    for (const size of SIZES) {
      const r = await peer.exec(
        process.execPath,
        [
          '--import',
          'tsx',
          client,
          peer.fishIp,
          '7',
          String(size),
          String(base.samples),
          String(base.total),
          String(base.window),
        ],
        120_000,
      );
      if (r.code !== 0) throw new Error(`the Linux-side client failed: ${r.stderr}`);
      bySize[size] = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Echo;
      console.log(`linux -> fishnet ${size} B:`, JSON.stringify(brief(bySize[size]!)));
    }
    await fish.stop();
    return { bySize };
  } finally {
    await peer.remove();
  }
}

export async function udpBench() {
  const fishnet = await fishnetRuns();
  const node = await nodeRuns();
  const linux = await linuxRuns();
  const f64 = fishnet.bySize['64']!;
  const n64 = node.bySize['64']!;
  const result = {
    quick,
    window: base.window,
    echoRttP50Us: f64.rttUs.p50,
    echoRttP99Us: f64.rttUs.p99,
    nodeDgramRttP50Us: n64.rttUs.p50,
    nodeDgramRttP99Us: n64.rttUs.p99,
    perSec: f64.perSec,
    nodeDgramPerSec: n64.perSec,
    targets: { echoRttP50AtMostNodeDgram: true, perSecAtLeastTwiceNodeDgram: true },
    met: {
      echoRttP50AtMostNodeDgram: f64.rttUs.p50 <= n64.rttUs.p50,
      perSecAtLeastTwiceNodeDgram: f64.perSec >= 2 * n64.perSec,
    },
    fishnet: {
      bySize: Object.fromEntries(Object.entries(fishnet.bySize).map(([k, v]) => [k, v])),
      byWindow: fishnet.byWindow,
    },
    nodeDgram: { bySize: node.bySize, byWindow: node.byWindow },
    linux,
  };
  const svg = logLogPlot(
    'UDP echo, 64 B: datagrams/s by datagrams in flight',
    'window (datagrams in flight)',
    'echoes/s',
    [
      {
        name: 'fishnet (lwip, 2 machines)',
        color: '#2c3e50',
        points: WINDOWS.map((w) => [w, fishnet.byWindow[w]!]),
      },
      {
        name: 'node:dgram (loopback)',
        color: '#c0392b',
        dashed: true,
        points: WINDOWS.map((w) => [w, node.byWindow[w]!]),
      },
    ],
  );
  const svgPath = resultPath('udp.svg');
  writeFileSync(svgPath, svg);
  console.log(`wrote ${writeResult('udp', result)} and ${svgPath.pathname}`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await udpBench();
}
