// A machine on a network for the driver's tests: the NIC and its driver, a stand-in
// netd holding the ether_netd capability, a tap on the switch to inject and read
// frames on the wire, and clients that speak ether. Everything is closed at the end.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { Machine, type MachineOptions } from '../../embed/machine.ts';
import { Network } from '../../embed/network.ts';
import { portRxFilter, portTxFilter } from '../../lib/bfdmux/index.ts';
import { type Ipv4Addr, ipv4, type Mac, mac, port } from '../../lib/net/index.ts';
import type { FramePort } from '../../lib/phy/index.ts';
import { type ActorRef, type ApiOf, Runtime } from '../../runtime/index.ts';
import type EtherClientActor from '../fixtures/actors/ether-client.ts';
import type { EtherClientArgs } from '../fixtures/actors/ether-client.ts';
import type NetdStandin from '../fixtures/actors/netd-standin.ts';
import { eventually, fixture } from './runtime.ts';

export type EtherClient = ActorRef<ApiOf<typeof EtherClientActor>>;
export type Netd = ActorRef<ApiOf<typeof NetdStandin>>;

export const MACHINE_IP = ipv4('10.0.0.2');
export const PEER_MAC = mac('02:00:00:00:00:99');
export const PEER_IP = ipv4('10.0.0.9');

export interface Rig {
  readonly rt: Runtime;
  readonly net: Network;
  readonly m: Machine;
  readonly netd: Netd;
  /** A cable end on the switch: frames sent here are on the wire. */
  readonly wire: FramePort;
  /** Frames the switch delivered to the tap (copies), in order. */
  readonly onWire: Uint8Array[];
  readonly dir: string;
  client(args?: Partial<EtherClientArgs>): Promise<EtherClient>;
  /** Open a UDP port for a client: its filters registered by the stand-in netd. Returns the filter id. */
  open(c: EtherClient, udpPort: number, ip?: Ipv4Addr): Promise<number>;
  /** Wait until `n` frames were seen on the wire (or the time is up). */
  wireCount(n: number, ms?: number): Promise<boolean>;
}

export async function withMachine<T>(
  t: ExecutionContext,
  fn: (r: Rig) => Promise<T>,
  options: Partial<MachineOptions> = {},
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'fishnet-machine-'));
  const rt = new Runtime({ prestart: 0 });
  const net = new Network();
  let m: Machine | undefined;
  try {
    m = await Machine.boot(rt, net, { name: 'm1', ...options });
    const netd = (await rt.spawn({
      module: fixture('netd-standin'),
      args: { machine: 'm1' },
      caps: { netd: m.netdGrant },
    })) as Netd;
    const wire = net.tap();
    const onWire: Uint8Array[] = [];
    wire.setReceiver((f) => onWire.push(f.slice()));
    const machine = m;
    const r: Rig = {
      rt,
      net,
      m: machine,
      netd,
      wire,
      onWire,
      dir,
      client: async (args = {}) =>
        (await rt.spawn({
          module: fixture('ether-client'),
          args: { service: 'm1/ether', ...args },
        })) as EtherClient,
      open: async (c, udpPort, ip = MACHINE_IP) => {
        const ids = await c.api.ids();
        const spec = { mac: machine.mac as Mac, ip, type: 'udp' as const, port: port(udpPort) };
        return netd.api.registerFilter(ids.rx, ids.tx, portRxFilter(spec), portTxFilter(spec));
      },
      wireCount: (n, ms = 5000) => eventually(() => onWire.length >= n, ms),
    };
    return await fn(r);
  } finally {
    await m?.shutdown();
    await rt.shutdown();
    await net.close();
    rmSync(dir, { recursive: true, force: true });
    t.deepEqual(rt.stats(), { actors: 0, monitors: 0, bindings: 0, idleThreads: 0 });
  }
}
