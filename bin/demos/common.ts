// What the demos share: how one is declared, how it reports, and a small traffic rig
// (UDP sinks on one machine fed by generators on a peer machine, each a client of
// its machine's netd and driver) whose losses can be counted exactly.
import type UdpTraffic from '../../actors/apps/udp-traffic.ts';
import type { FishnetMachine, FishnetNetwork } from '../../embed/fishnet.ts';
import type { ActorRef, ApiOf } from '../../runtime/index.ts';

export interface DemoIo {
  /** Human lines (stdout without --json; stderr with it, as progress). */
  say(line: string): void;
  readonly json: boolean;
}

export interface Demo {
  readonly about: string;
  /** Extra usage text (flags of its own). */
  readonly usage?: string;
  run(io: DemoIo, args: string[]): Promise<number>;
}

export const TRAFFIC = new URL('../../actors/apps/udp-traffic.ts', import.meta.url);
export type Traffic = ActorRef<ApiOf<typeof UdpTraffic>>;

export interface Flow {
  readonly name: string;
  readonly port: number;
  readonly sink: Traffic;
  readonly generator: Traffic;
}

/** A sink on `m` for each port, and a generator on `peer` sending to it at `rate` a second. */
export async function flows(
  m: FishnetMachine,
  peer: FishnetMachine,
  address: string,
  ports: readonly number[],
  rate: number,
): Promise<Flow[]> {
  const out: Flow[] = [];
  for (const [i, port] of ports.entries()) {
    const name = `client-${i + 1}`;
    const sink = (await m.spawn({
      name: `${m.name}/${name}`,
      module: TRAFFIC,
      // Pbufs for four seconds of this traffic: a sink that a loaded machine leaves
      // unscheduled for a while still has somewhere to receive (the driver counts noPbuf otherwise).
      args: { sink: { port }, rxPbufs: Math.min(4096, Math.max(256, rate * 4)) },
    })) as Traffic;
    out.push({ name, port, sink, generator: undefined as unknown as Traffic });
  }
  for (const [i, f] of out.entries()) {
    (f as { generator: Traffic }).generator = (await peer.spawn({
      name: `${peer.name}/to-${f.name}`,
      module: TRAFFIC,
      args: { generate: { address, port: f.port, rate, size: 64, flow: i + 1 } },
    })) as Traffic;
  }
  return out;
}

/** What a flow's generator sent, and what its sink got and missed (by sequence number). */
/** Stack drop causes on the way out: a datagram counted there never left its sender. */
const TX_CAUSES = /^(tx-|arp-|loopback-)/;

export async function flowCounts(f: Flow) {
  const g = (await f.generator.api.counters()).generator;
  const s = (await f.sink.api.counters()).sink;
  const flow = s.flows[0];
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  const causes = (r: Record<string, number>) =>
    Object.fromEntries(Object.entries(r).filter(([, n]) => n > 0));
  const senderDrops = (await f.generator.api.stats()).stack.dropped as unknown as Record<string, number>;
  const sinkDrops = (await f.sink.api.stats()).stack.dropped as unknown as Record<string, number>;
  const sendErrors = sum(g.sendErrors as Record<string, number>);
  const notSent =
    sendErrors + sum(Object.fromEntries(Object.entries(senderDrops).filter(([k]) => TX_CAUSES.test(k))));
  return {
    sent: g.sent,
    /** Of those, what the sender's stack and driver let go: what the network owed the sink. */
    left: g.sent - notSent,
    received: flow?.received ?? 0,
    lost: flow?.lost ?? 0,
    // Failures counted at the sender (its stack and driver) and drops in the sink's stack, by cause.
    sendErrors,
    senderStackDropped: sum(senderDrops),
    sinkStackDropped: sum(sinkDrops),
    stackDrops: { sender: causes(senderDrops), sink: causes(sinkDrops) },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * After the generators stopped, let what is in flight land: wait until every flow
 * has all it was sent, or none gets more for a second (a busy machine can hold
 * frames in its queues a while). Resolves with what is still missing.
 */
export function landed(fs: readonly Flow[]): Promise<number> {
  return settled(async () => {
    let n = 0;
    for (const f of fs) {
      const c = await flowCounts(f);
      n += c.left - c.received;
    }
    return n;
  });
}

/**
 * Poll `pending` (what is still on its way) every 100 ms until it is 0 or has not
 * changed for a second; resolves with its last value.
 */
export async function settled(pending: () => Promise<number>): Promise<number> {
  let p = await pending();
  for (let last = p, still = 0; p > 0 && still < 10; last = p) {
    await sleep(100);
    p = await pending();
    still = p === last ? still + 1 : 0;
  }
  return p;
}

/** Where a frame between `peer` and `m` would have been dropped on the way, each place's own count. */
export async function dropsOnTheWay(net: FishnetNetwork, m: FishnetMachine, peer: FishnetMachine) {
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  const missed = async (x: FishnetMachine) =>
    ((await x.inspect()).driver as { device: { missedPackets: number } }).device.missedPackets;
  return {
    peerLink: peer.machine.nic.stats().wireDropped + sum(peer.machine.nic.port.stats.dropped),
    switch: sum(net.network.stats.dropped),
    [`${m.name}Link`]: m.machine.nic.stats().wireDropped + sum(m.machine.nic.port.stats.dropped),
    [`${m.name}DeviceMissed`]: await missed(m),
    // The other way (replies, echoes): the peer's receive ring.
    [`${peer.name}DeviceMissed`]: await missed(peer),
  };
}

/** Rows of text in columns. */
export function columns(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}
