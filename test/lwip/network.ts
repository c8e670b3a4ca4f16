// Two machines on one network for the stack's end-to-end tests: each an emulated
// e1000 with its driver and the real netd with a static address (m1 10.1.0.1, m2
// 10.1.0.2, /24) - or, for the test of an address that changes on demand, the
// netd-lite fixture - a tap on the switch to inject frames and read the wire, and
// application actors (lib/lwip through test/fixtures/actors/lwip-peer.ts, or the
// apps in actors/apps). Everything is shut down at the end, and the runtime's tables
// must be empty.
import type { ExecutionContext } from 'ava';
import { Machine } from '../../embed/machine.ts';
import { Network } from '../../embed/network.ts';
import { type Ipv4Addr, ipv4, type Mac } from '../../lib/net/index.ts';
import type { FramePort } from '../../lib/phy/index.ts';
import { type ActorRef, type ApiOf, Runtime, type ServiceCapability } from '../../runtime/index.ts';
import type LwipPeer from '../fixtures/actors/lwip-peer.ts';
import type { PeerArgs } from '../fixtures/actors/lwip-peer.ts';
import type NetdLite from '../fixtures/actors/netd-lite.ts';
import type { NetdLiteArgs } from '../fixtures/actors/netd-lite.ts';
import { eventually, fixture } from '../helpers/runtime.ts';

export type Peer = ActorRef<ApiOf<typeof LwipPeer>>;
export type NetdLiteRef = ActorRef<ApiOf<typeof NetdLite>>;

export const IP1 = ipv4('10.1.0.1');
export const IP2 = ipv4('10.1.0.2');
export const GW = ipv4('10.1.0.254');
export const TAP_MAC = 0x02_00_00_00_0a_0a as Mac;
export const TAP_IP = ipv4('10.1.0.99');

/** What the tests ask of a machine's netd, whichever runs. */
export interface NetdView {
  ports(): Promise<{ type: string; port: number; owner: number }[]>;
  arpAnswered(): Promise<number>;
  unreachableSent(): Promise<number>;
  /** netd-lite only: a new address, as a renewed lease would bring. */
  readonly lite?: NetdLiteRef;
}

export interface Host {
  readonly m: Machine;
  readonly ip: Ipv4Addr;
  readonly netd: NetdView;
  /** The connect grant for `<machine>/netd-priv` (ports below 1024). */
  readonly priv: ServiceCapability['connect'];
}

export interface Net2 {
  readonly rt: Runtime;
  readonly net: Network;
  readonly m1: Host;
  readonly m2: Host;
  /** A cable end on the switch: frames sent here are on the wire. */
  readonly wire: FramePort;
  readonly onWire: Uint8Array[];
  /** An application actor with a stack on machine `m`; `priv` hands it the netd-priv grant. */
  peer(h: Host, opts?: { priv?: boolean; args?: Partial<PeerArgs> }): Promise<Peer>;
  /** Spawn any actor module with the machine's grant for privileged ports if asked. */
  spawn<T extends object>(module: URL, args: unknown, h?: Host, priv?: boolean): Promise<ActorRef<T>>;
}

export async function withTwoMachines<T>(
  t: ExecutionContext,
  fn: (n: Net2) => Promise<T>,
  opts: { lite?: Partial<NetdLiteArgs> } = {},
): Promise<T> {
  const rt = new Runtime({ prestart: 0 });
  const net = new Network();
  const machines: Machine[] = [];
  try {
    const host = async (name: string, ip: string): Promise<Host> => {
      if (!opts.lite) {
        const m = await Machine.boot(rt, net, { name, address: `${ip}/24`, gateway: '10.1.0.254' });
        machines.push(m);
        const netd = () => m.netd!.api;
        const stack = async () =>
          ((await netd().statistics()) as unknown as { stack: Record<string, number> }).stack;
        const view: NetdView = {
          ports: () => netd().ports(),
          arpAnswered: async () => (await stack()).arpRequestsAnswered!,
          unreachableSent: async () => (await stack()).portUnreachableSent!,
        };
        return { m, ip: ipv4(ip), netd: view, priv: m.lowPortGrant };
      }
      const m = await Machine.boot(rt, net, { name });
      machines.push(m);
      const priv = rt.privileged(`${name}/netd-priv`);
      const lite = (await rt.spawn({
        module: fixture('netd-lite'),
        args: { machine: name, ip, gw: '10.1.0.254', mask: '255.255.255.0', ...opts.lite },
        caps: { netd: m.netdGrant, priv: priv.export },
      })) as NetdLiteRef;
      const view: NetdView = {
        ports: () => lite.api.ports(),
        arpAnswered: async () => (await lite.api.stats()).arpAnswered,
        unreachableSent: async () => (await lite.api.stats()).unreachableSent,
        lite,
      };
      return { m, ip: ipv4(ip), netd: view, priv: priv.connect };
    };
    const m1 = await host('m1', '10.1.0.1');
    const m2 = await host('m2', '10.1.0.2');
    const wire = net.tap();
    const onWire: Uint8Array[] = [];
    wire.setReceiver((f) => {
      if (onWire.length < 100_000) onWire.push(f.slice());
    });
    const spawn = async <A extends object>(module: URL, args: unknown, h?: Host, priv = false) =>
      (await rt.spawn({
        module,
        args,
        ...(h && priv ? { caps: { lowPorts: h.priv } } : {}),
      })) as ActorRef<A>;
    return await fn({
      rt,
      net,
      m1,
      m2,
      wire,
      onWire,
      peer: (h, opts = {}) =>
        spawn<ApiOf<typeof LwipPeer>>(
          fixture('lwip-peer'),
          { machine: h.m.name, ...opts.args },
          h,
          opts.priv,
        ),
      spawn,
    });
  } finally {
    for (const m of machines.reverse()) await m.shutdown();
    await rt.shutdown();
    await net.close();
    t.deepEqual(rt.stats(), { actors: 0, monitors: 0, bindings: 0, idleThreads: 0 });
  }
}

export { eventually };
