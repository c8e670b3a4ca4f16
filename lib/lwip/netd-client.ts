// The stack's side of netd (protocols/netd.if): the interface's address, ports opened
// and closed for the stack's RX and TX buffers, and ip_changed when a lease brings
// another address. Ports below 1024 go through the privileged service
// `<machine>/netd-priv`, whose connect grant an actor is handed at spawn; without
// it they are refused here, before netd is asked.
import { FishnetError } from '../../protocols/errors.ts';
import { type NetdClient as NetdEndpoint, netd, PortType } from '../../protocols/generated/netd.ts';
import type { ActorContext, CapabilityRef } from '../../runtime/index.ts';
import type { Ipv4Addr, Mac } from '../net/index.ts';
import type { PortService } from './udp.ts';

/** Ports below this need the privileged service. */
export const PRIVILEGED_PORTS = 1024;

export interface NetdClientOptions {
  /** The machine: netd serves `<machine>/netd`. */
  readonly machine: string;
  /** The stack's buffers (the driver's ids): frames for our ports go to rx, ours leave tx. */
  readonly rxBuffer: number;
  readonly txBuffer: number;
  /** The connect grant for `<machine>/netd-priv` (ports below 1024). */
  readonly privileged?: CapabilityRef;
  /** Wait this long for netd's service to appear (default: it must be there). */
  readonly timeoutMs?: number;
  /** Every call to netd fails after this long (default 10 s): a stuck netd must not hang a bind for ever. */
  readonly rpcTimeoutMs?: number;
}

export interface IpInfo {
  readonly ip: Ipv4Addr;
  readonly gw: Ipv4Addr;
  readonly mask: Ipv4Addr;
}

const TYPE = { udp: PortType.PORT_UDP, tcp: PortType.PORT_TCP } as const;

export class NetdClient implements PortService {
  private priv: Promise<NetdEndpoint> | undefined;
  /** Ports opened through the privileged binding: they are closed through it too. */
  private readonly privPorts = new Set<string>();
  private readonly listeners = new Set<(info: IpInfo) => void>();
  private last: IpInfo | undefined;
  private closed = false;

  private constructor(
    private readonly ctx: ActorContext<unknown>,
    private readonly ep: NetdEndpoint,
    private readonly opts: NetdClientOptions,
  ) {
    ep.rx.ip_changed = (ip, gw, mask) => this.changed(ip, gw, mask);
  }

  static async connect(ctx: ActorContext<unknown>, opts: NetdClientOptions): Promise<NetdClient> {
    if (typeof opts?.machine !== 'string' || opts.machine === '')
      throw new FishnetError('LWIP_ERR_ARG', `netd: machine ${JSON.stringify(opts?.machine)} is not a name`);
    const ep = await ctx.connect(netd, `${opts.machine}/netd`, {
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    });
    ep.rpcTimeoutMs = opts.rpcTimeoutMs ?? 10_000;
    return new NetdClient(ctx, ep, opts);
  }

  get hasPrivilege(): boolean {
    return this.opts.privileged !== undefined;
  }

  /** The address netd last told us (undefined before ipInfo()). */
  get current(): IpInfo | undefined {
    return this.last;
  }

  async ipInfo(): Promise<IpInfo> {
    const r = await this.ep.rpc.get_ip_info();
    return (this.last = { ip: r.ip as Ipv4Addr, gw: r.gw as Ipv4Addr, mask: r.mask as Ipv4Addr });
  }

  async macAddress(): Promise<Mac> {
    return Number((await this.ep.rpc.get_mac_address()).hwaddr) as Mac;
  }

  /** Called with the new address whenever netd says it changed. */
  onIpChanged(fn: (info: IpInfo) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async getPort(type: 'udp' | 'tcp'): Promise<number> {
    const { port } = await this.ep.rpc.get_port(TYPE[type], this.opts.rxBuffer, this.opts.txBuffer);
    return port;
  }

  async bindPort(type: 'udp' | 'tcp', port: number): Promise<void> {
    if (port < PRIVILEGED_PORTS) {
      const ep = await this.privileged(port);
      await ep.rpc.bind_port(TYPE[type], port, this.opts.rxBuffer, this.opts.txBuffer);
      this.privPorts.add(`${type}/${port}`);
      return;
    }
    await this.ep.rpc.bind_port(TYPE[type], port, this.opts.rxBuffer, this.opts.txBuffer);
  }

  async closePort(type: 'udp' | 'tcp', port: number): Promise<void> {
    const key = `${type}/${port}`;
    if (this.privPorts.delete(key) && this.priv) {
      await (await this.priv).rpc.close_port(TYPE[type], port);
      return;
    }
    await this.ep.rpc.close_port(TYPE[type], port);
  }

  private privileged(port: number): Promise<NetdEndpoint> {
    const cap = this.opts.privileged;
    if (cap === undefined) {
      return Promise.reject(
        new FishnetError(
          'RT_ERR_NOT_PRIVILEGED',
          `port ${port} is below ${PRIVILEGED_PORTS}: it needs the grant for ${this.opts.machine}/netd-priv`,
        ),
      );
    }
    if (this.closed) return Promise.reject(new FishnetError('RT_ERR_BINDING_CLOSED', 'netd client closed'));
    this.priv ??= this.ctx.connect(netd, cap).then((ep) => {
      ep.rpcTimeoutMs = this.ep.rpcTimeoutMs;
      ep.rx.ip_changed = (ip, gw, mask) => this.changed(ip, gw, mask);
      return ep;
    });
    // A failed connection is not kept: the next privileged bind tries again.
    this.priv.catch(() => {
      this.priv = undefined;
    });
    return this.priv;
  }

  private changed(ip: number, gw: number, mask: number): void {
    const l = this.last;
    // Both bindings say it: tell the stack once.
    if (l && l.ip === ip && l.gw === gw && l.mask === mask) return;
    const info: IpInfo = (this.last = { ip: ip as Ipv4Addr, gw: gw as Ipv4Addr, mask: mask as Ipv4Addr });
    for (const fn of this.listeners) fn(info);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ep.close();
    void this.priv?.then(
      (ep) => ep.close(),
      () => {},
    );
  }
}
