// How an actor gets a network: `const net = await lwip.open(ctx, { machine: 'm1' })`
// binds the machine's driver (`m1/ether`) and netd (`m1/netd`), registers the stack's
// buffers, asks netd for the address, and returns the stack with its UDP and a
// node:dgram-shaped factory:
//
//   const s = net.dgram.createSocket('udp4');
//
// net.close() closes the sockets (their ports go back to netd), the stack's timer,
// and both bindings.
import { FishnetError } from '../../protocols/errors.ts';
import type { ActorContext, CapabilityRef } from '../../runtime/index.ts';
import { formatMac, type Ipv4Addr } from '../net/index.ts';
import type { ArpCacheConfig } from './arp-cache.ts';
import { type DgramHost, type RemoteInfo, Socket, type SocketOptions, type SocketStats } from './dgram.ts';
import type { ReassemblyConfig } from './ipv4-reassembly.ts';
import { NetdClient } from './netd-client.ts';
import { Netif, type NetifStats } from './netif.ts';
import { Stack, type StackStats } from './stack.ts';
import { Udp, type UdpStats } from './udp.ts';

export interface OpenOptions {
  /** The machine whose NIC and netd to use: services `<machine>/ether`, `<machine>/netd`. */
  readonly machine: string;
  /**
   * The connect grant for `<machine>/netd-priv`, for ports below 1024. Default: the
   * capability the actor was handed as `lowPorts` (FishnetMachine.spawn({ lowPorts: true })), if any.
   */
  readonly privileged?: CapabilityRef;
  /** Receive pbufs and transmit slots (default 256 each). */
  readonly rxPbufs?: number;
  readonly txSlots?: number;
  /** Wait this long for the driver's and netd's services (default: they must be there). */
  readonly timeoutMs?: number;
  readonly ttl?: number;
  readonly mtu?: number;
  readonly arp?: Omit<ArpCacheConfig, 'mac' | 'ip' | 'answer'>;
  readonly reassembly?: ReassemblyConfig;
}

export interface NetStats {
  readonly mac: string;
  readonly stack: StackStats;
  readonly udp: UdpStats;
  readonly link: NetifStats;
  readonly sockets: number;
}

export class Net implements DgramHost {
  readonly dgram: {
    createSocket(
      type: 'udp4' | Omit<SocketOptions, 'stack'>,
      listener?: (msg: Buffer, rinfo: RemoteInfo) => void,
    ): Socket;
  };
  private readonly sockets = new Set<Socket>();
  private closing: Promise<void> | undefined;

  constructor(
    readonly stack: Stack,
    readonly udp: Udp,
    readonly netif: Netif,
    readonly netd: NetdClient,
  ) {
    this.dgram = { createSocket: (type, listener) => new Socket(type, listener, this) };
  }

  /** @internal */
  adopt(s: Socket): void {
    if (this.closing) throw new FishnetError('LWIP_ERR_CLSD', 'this network is closed');
    this.sockets.add(s);
  }

  /** @internal */
  disown(s: Socket): void {
    this.sockets.delete(s);
  }

  get ip(): Ipv4Addr {
    return this.stack.ip;
  }

  /** Free transmit slots (a datagram needs one per fragment). */
  txAvailable(): number {
    return this.stack.txAvailable();
  }

  /** Resolves when a transmit slot is free: back-pressure for a sender that outruns the driver. */
  txReady(): Promise<void> {
    return this.stack.txReady();
  }

  stats(): NetStats {
    return {
      mac: formatMac(this.stack.mac),
      stack: this.stack.stats(),
      udp: this.udp.stats(),
      link: this.netif.stats(),
      sockets: this.sockets.size,
    };
  }

  /** Per-socket counters, for a management API. */
  socketStats(): SocketStats[] {
    return [...this.sockets].map((s) => s.stats());
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const s of [...this.sockets]) if (!s.isClosed) s.close();
      await this.udp.close(); // every close_port answered
      this.stack.close();
      this.netd.close();
      await this.netif.close();
    })();
    return this.closing;
  }
}

/** Bind a machine's driver and netd, and start a stack on them. */
export async function open(ctx: ActorContext<unknown>, opts: OpenOptions): Promise<Net> {
  if (typeof opts?.machine !== 'string' || !/^[A-Za-z0-9._-]+$/.test(opts.machine))
    throw new FishnetError(
      'LWIP_ERR_ARG',
      `lwip.open: machine ${JSON.stringify(opts?.machine)} is not a machine name`,
    );
  const netif = await Netif.open(ctx, {
    service: `${opts.machine}/ether`,
    rxPbufs: opts.rxPbufs,
    txSlots: opts.txSlots,
    timeoutMs: opts.timeoutMs,
  });
  let netd: NetdClient | undefined;
  try {
    netd = await NetdClient.connect(ctx, {
      machine: opts.machine,
      rxBuffer: netif.rxBufferId,
      txBuffer: netif.txBufferId,
      privileged: opts.privileged ?? ctx.caps.lowPorts,
      timeoutMs: opts.timeoutMs,
    });
    const { ip, gw, mask } = await netd.ipInfo();
    const stack = new Stack({
      link: netif,
      ip,
      gw,
      mask,
      ttl: opts.ttl,
      mtu: opts.mtu,
      arp: opts.arp,
      reassembly: opts.reassembly,
    });
    netd.onIpChanged((a) => stack.setAddress(a.ip, a.gw, a.mask));
    // A change that came while the stack was being made.
    const now = netd.current;
    if (now && (now.ip !== ip || now.gw !== gw || now.mask !== mask))
      stack.setAddress(now.ip, now.gw, now.mask);
    const udp = new Udp(stack, netd);
    return new Net(stack, udp, netif, netd);
  } catch (e) {
    netd?.close();
    await netif.close();
    throw e;
  }
}
