// What the datapath benchmarks share: a machine on a network with clients that count
// (and may echo) what they receive, frames for them, and a generator that offers
// frames on the NIC's link with a window of them in flight.
import { Machine } from '../embed/machine.ts';
import { Network } from '../embed/network.ts';
import { compileFilter, portRxFilter, portTxFilter } from '../lib/bfdmux/index.ts';
import { ipv4, type Mac, mac, port, udpFrame } from '../lib/net/index.ts';
import type { FramePort } from '../lib/phy/index.ts';
import { ether_netd } from '../protocols/generated/ether_netd.ts';
import { type ActorRef, type ApiOf, Runtime } from '../runtime/index.ts';
import type ClientActor from './actors/datapath-client.ts';

export const MACHINE_IP = ipv4('10.0.0.2');
export const PEER_IP = ipv4('10.0.0.9');
export const PEER_MAC = mac('02:00:00:00:00:99');
export type Client = ActorRef<ApiOf<typeof ClientActor>>;

export interface Setup {
  rt: Runtime;
  net: Network;
  m: Machine;
  tap: FramePort;
  clients: Client[];
  /** Frames the clients have received, counted by them in shared memory (word 0). */
  progress: Int32Array;
}

/**
 * Frames in flight at most: the generator offers frames as fast as the pipeline takes
 * them without loss, the way a throughput test finds the rate with no drops rather
 * than one that overruns the NIC. A frame counts as done when its client has it, but
 * its pbuf is back with the driver only a batch later: half the client's 2048 pbufs
 * in flight leaves room for that.
 */
export const WINDOW = 1024;

/**
 * In echo mode a frame in flight is also an echo the driver holds until the device sent
 * it, and the driver holds at most 256 a client (MAX_IN_FLIGHT_PER_CLIENT) before it
 * refuses one as busy.
 */
export const ECHO_WINDOW = 192;

/**
 * A machine with `n` clients, each with port 7000+i. With `withNetd` the machine runs
 * netd and each client asks it for its port; without, the program registers the
 * clients' filters itself through the driver's ether_netd (it holds every capability).
 */
export async function setup(n: number, echo: boolean, withNetd = false): Promise<Setup> {
  const rt = new Runtime({ prestart: 0 });
  const net = new Network();
  const m = await Machine.boot(rt, net, {
    name: 'bench',
    nic: { queueFrames: 8192 },
    address: withNetd ? '10.0.0.2/24' : undefined,
    // The netd bench has one holder open 10,000 ports: past the default share of one client.
    portsPerClient: withNetd ? 65536 : undefined,
  });
  const ctl = withNetd ? undefined : await rt.connect(ether_netd, `${m.name}/ether_netd`);
  const clients: Client[] = [];
  const progress = new SharedArrayBuffer(4);
  for (let i = 0; i < n; i++) {
    const c = (await rt.spawn({
      module: new URL('./actors/datapath-client.ts', import.meta.url),
      args: { service: 'bench/ether', echo, progress, port: withNetd ? 7000 + i : undefined },
    })) as Client;
    if (ctl) {
      const ids = await c.api.ids();
      const spec = { mac: m.mac as Mac, ip: MACHINE_IP, type: 'udp' as const, port: port(7000 + i) };
      await ctl.rpc.register_filter(
        ids.rx,
        ids.tx,
        compileFilter(portRxFilter(spec)).code,
        compileFilter(portTxFilter(spec)).code,
      );
    }
    clients.push(c);
  }
  const tap = net.tap({ capacity: 8192 });
  return { rt, net, m, tap, clients, progress: new Int32Array(progress) };
}

export const round = (x: number) => Math.round(x * 1000) / 1000;

export async function teardown(s: Setup): Promise<void> {
  await s.m.shutdown();
  await s.rt.shutdown();
  await s.net.close();
}

export function frames(m: Machine, n: number, size: 64 | 1500): Uint8Array[] {
  const payload = new Uint8Array(size === 64 ? 18 : 1472);
  return Array.from({ length: n }, (_, i) =>
    udpFrame({
      dstMac: m.mac,
      srcMac: PEER_MAC,
      src: PEER_IP,
      dst: MACHINE_IP,
      srcPort: 5000,
      dstPort: 7000 + i,
      payload,
    }),
  );
}

export async function delivered(s: Setup): Promise<number> {
  let n = 0;
  for (const c of s.clients) n += (await c.api.counts()).frames;
  return n;
}

/**
 * Every counter on the way that a frame offered here can end in, by place and cause,
 * non-zero only: the NIC's (missed: the receive ring was full), the driver's, each
 * client's. A run reports the difference over it, so a shortfall says where it went.
 */
export async function drops(s: Setup): Promise<Record<string, number>> {
  const d = (await s.m.driver.api.statistics()) as {
    rx: { unclaimed: number; dropped: Record<string, number> };
    tx: { refused: number; badPbuf: number; tooLong: number; busy: number };
    clients: { rxDropped: Record<string, number>; txRefused: number; txBusy: number }[];
  };
  const nic = s.m.nic.stats();
  const out: Record<string, number> = {
    'nic.missed': nic.missed,
    'nic.wireDropped': nic.wireDropped,
    'driver.rx.unclaimed': d.rx.unclaimed,
    'driver.tx.refused': d.tx.refused,
    'driver.tx.busy': d.tx.busy,
  };
  for (const [k, v] of Object.entries(d.rx.dropped)) out[`driver.rx.${k}`] = v;
  for (const c of d.clients) {
    for (const [k, v] of Object.entries(c.rxDropped))
      out[`client.rx.${k}`] = (out[`client.rx.${k}`] ?? 0) + v;
  }
  return out;
}

/** What grew between two readings of drops(). */
export function grown(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([k, v]) => [k, v - (before[k] ?? 0)] as const)
      .filter(([, v]) => v !== 0),
  );
}

/** Offer frames on the NIC's end of the link, a window of them in flight at most. */
export async function offer(
  s: Setup,
  fs: Uint8Array[],
  total: number,
  completed?: () => number,
  window = WINDOW,
): Promise<void> {
  const port = s.m.nic.port;
  const start = Atomics.load(s.progress, 0);
  const finished = completed ?? (() => Atomics.load(s.progress, 0) - start);
  let sent = 0;
  while (sent < total) {
    const done = finished();
    while (sent < total && sent - done < window && port.send(fs[sent % fs.length]!)) sent++;
    if (sent < total) await new Promise<void>((r) => setImmediate(r));
  }
}

export async function rxRate(s: Setup, size: 64 | 1500, total: number) {
  const fs = frames(s.m, s.clients.length, size);
  for (const c of s.clients) await c.api.reset();
  const before = await drops(s);
  const t0 = performance.now();
  await offer(s, fs, total);
  // Wait until deliveries stop growing.
  let last = -1;
  let got = await delivered(s);
  while (got !== last) {
    last = got;
    await new Promise((r) => setTimeout(r, 50));
    got = await delivered(s);
  }
  const seconds = (performance.now() - t0 - 50) / 1000;
  const perSec = got / seconds;
  return {
    offered: total,
    delivered: got,
    dropped: grown(before, await drops(s)),
    perSec: Math.round(perSec),
    gbps: round((perSec * size * 8) / 1e9),
  };
}
