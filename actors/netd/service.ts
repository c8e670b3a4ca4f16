// netd's service to applications (netd.if): ports. Opening one checks that both
// buffers named are the caller's own (get_buffer_owner against the binding's peer,
// which the runtime vouches for), takes the port, builds its RX and TX filters,
// registers them with the driver and answers only once the driver has them; a
// failure on the way undoes every step. Many requests may be in flight at once
// (there is no global busy flag as in the original); two clients racing for one
// port are decided when the port is taken, synchronously: one wins, the other gets
// PORT_ERR_IN_USE. A client's end (its binding, whatever the cause) closes all its
// ports exactly once, whatever state each was in.

import { Limiter } from '../../lib/limiter.ts';
import { directedBroadcast, type Mac } from '../../lib/net/index.ts';
import { ReleaseWaiters } from '../../lib/release-waiters.ts';
import { FishnetError } from '../../protocols/errors.ts';
import type { EtherNetdClient } from '../../protocols/generated/ether_netd.ts';
import { type NetdServer, PortType } from '../../protocols/generated/netd.ts';
import type { ActorId } from '../../runtime/index.ts';
import type { PortType as Kind, PortAllocator } from './ports.ts';
import type { Address } from './stack.ts';
import { FilterTemplates } from './templates.ts';

export type PortState = 'opening' | 'open' | 'closing';

interface PortRecord {
  readonly kind: Kind;
  readonly port: number;
  readonly client: Client;
  readonly rx: number;
  readonly tx: number;
  filterId: number;
  /** The filter pair for ICMP errors about its datagrams (RX), with the port's TX filter. */
  icmpFilterId: number;
  state: PortState;
  /** Set when its client went (or asked to close it) while it was opening: the opener finishes the close. */
  abandoned: boolean;
  /** Settles when an opening or closing in progress is done. */
  settled: Promise<void>;
}

interface Client {
  readonly id: ActorId;
  readonly name: string;
  readonly ep: NetdServer;
  readonly privileged: boolean;
  readonly ports: Set<PortRecord>;
  alive: boolean;
  /** When netd heard of its end (performance.now()), for the cleanup's duration. */
  goneAt: number;
}

/** What inspection shows of a port. */
export interface PortInfo {
  readonly type: Kind;
  readonly port: number;
  readonly owner: ActorId;
  readonly ownerName: string;
  readonly filterId: number;
  /** The filter pair that takes ICMP errors about its datagrams. */
  readonly icmpFilterId: number;
  readonly state: PortState;
  readonly rxBuffer: number;
  readonly txBuffer: number;
}

export interface ServiceStats {
  opened: number;
  closed: number;
  refused: Record<string, number>;
  /** Ports closed because their client went. */
  reclaimed: number;
  /** Of those, ports whose client went while the driver was registering their filters. */
  abandonedMidOpen: number;
  /** The last cleanups after a client's end: its ports, and ms from hearing of it to its last port freed. */
  readonly cleanups: { ports: number; ms: number }[];
}

/** netd's calls to the driver in flight at once, at most. */
export const MAX_DRIVER_CALLS = 256;

/** Ports one client (an actor, over all its bindings) may hold at once, unless netd is told otherwise. */
export const DEFAULT_PORTS_PER_CLIENT = 4096;

/** Buffer owners netd remembers at most (the driver holds 64 buffers a client). */
export const MAX_CACHED_OWNERS = 4096;

const kindOf = (t: number): Kind => (t === PortType.PORT_TCP ? 'tcp' : 'udp');

export class PortService {
  readonly stats: ServiceStats = {
    opened: 0,
    closed: 0,
    refused: {},
    reclaimed: 0,
    abandonedMidOpen: 0,
    cleanups: [],
  };
  private readonly byPort = new Map<string, PortRecord>();
  private readonly clients = new Set<Client>();
  private readonly templates: FilterTemplates;
  /**
   * Buffer owners, as the driver said: a buffer id is never reused, so the answer holds.
   * A cache (a miss asks the driver again): a client's entries go with it, and it is
   * bounded, so a long-running machine does not keep one per buffer ever registered.
   */
  private readonly owners = new Map<number, ActorId>();
  /**
   * Calls to the driver in flight at most: a dead client's thousands of ports are
   * deregistered a few hundred at a time, not all at once on one binding.
   */
  private readonly toDriver = new Limiter(MAX_DRIVER_CALLS);
  /** Ports each actor holds, over all its bindings: checked against the quota. */
  private readonly held = new Map<ActorId, number>();
  /** Callers waiting until an actor holds no port (FishnetMachine.kill). */
  readonly releases = new ReleaseWaiters((actor) => (this.held.get(actor as ActorId) ?? 0) > 0);

  constructor(
    private readonly driver: EtherNetdClient,
    private readonly ports: PortAllocator,
    private readonly mac: Mac,
    private readonly address: Address,
    /** Ports one actor may hold at once: one client must not take every port from the others. */
    private readonly portsPerClient = DEFAULT_PORTS_PER_CLIENT,
  ) {
    this.templates = new FilterTemplates(mac);
  }

  /** Refused with PORT_ERR_QUOTA when the client holds its share; call with no await before open(). */
  private withinQuota(c: Client, kind: Kind, port?: number): void {
    if ((this.held.get(c.id) ?? 0) >= this.portsPerClient) {
      this.refuse(
        'PORT_ERR_QUOTA',
        `${c.name} holds ${this.portsPerClient} ports, its most${port === undefined ? '' : ` (asked for ${kind} ${port})`}`,
      );
    }
  }

  /** A client bound (to the plain service, or to the one for ports below 1024). */
  attach(ep: NetdServer, privileged: boolean): void {
    const c: Client = {
      id: ep.peer.id,
      name: ep.peer.name,
      ep,
      privileged,
      ports: new Set(),
      alive: true,
      goneAt: 0,
    };
    this.clients.add(c);
    ep.binding.onDisconnect(() => this.clientGone(c));
    ep.rpc.get_ip_info = () => ({ ip: this.address.ip, gw: this.address.gw, mask: this.address.mask });
    ep.rpc.get_mac_address = () => ({ hwaddr: BigInt(this.mac) });
    ep.rpc.get_port = async (type, rx, tx) => {
      const kind = kindOf(type);
      await this.checkBuffers(c, rx, tx);
      this.withinQuota(c, kind);
      const port = this.ports.allocate(kind);
      if (port === 0) this.refuse('PORT_ERR_NO_MORE_PORT', `no ${kind} port is left in the ephemeral range`);
      await this.open(c, kind, port, rx, tx);
      return { port };
    };
    ep.rpc.bind_port = async (type, port, rx, tx) => {
      const kind = kindOf(type);
      if (port === 0) this.refuse('PORT_ERR_NOT_FOUND', 'port 0: ask get_port for any free port');
      if (port < 1024 && !c.privileged) {
        this.refuse('PORT_ERR_PRIVILEGED', `${kind} port ${port}: bind through the privileged netd service`);
      }
      await this.checkBuffers(c, rx, tx);
      this.withinQuota(c, kind, port);
      if (!this.ports.take(kind, port)) this.refuse('PORT_ERR_IN_USE', `${kind} port ${port}`);
      await this.open(c, kind, port, rx, tx);
    };
    ep.rpc.close_port = async (type, port) => {
      const kind = kindOf(type);
      const rec = this.byPort.get(key(kind, port));
      if (!rec) this.refuse('PORT_ERR_NOT_FOUND', `${kind} port ${port} is not open`);
      if (rec.client !== c)
        this.refuse('PORT_ERR_NOT_OWNER', `${kind} port ${port} belongs to ${rec.client.name}`);
      await this.close(rec);
    };
  }

  /** Every port, with its owner, filter and state. */
  list(): PortInfo[] {
    return [...this.byPort.values()].map((r) => ({
      type: r.kind,
      port: r.port,
      owner: r.client.id,
      ownerName: r.client.name,
      filterId: r.filterId,
      icmpFilterId: r.icmpFilterId,
      state: r.state,
      rxBuffer: r.rx,
      txBuffer: r.tx,
    }));
  }

  /** Ports held by one actor (for tests that check nothing is left of a dead client). */
  portsOf(actor: ActorId): number {
    return this.held.get(actor) ?? 0;
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Buffer owners remembered now (the survivors' only, once the dead are cleaned up). */
  get ownersCached(): number {
    return this.owners.size;
  }

  /** The address changed: every open port's filters are made again for it, and clients are told. */
  async readdress(): Promise<void> {
    for (const rec of this.byPort.values()) {
      if (rec.state !== 'open') continue;
      const old = [rec.filterId, rec.icmpFilterId];
      try {
        const [rx, icmp] = await this.registerPairs(rec);
        if (rec.state !== 'open' || this.byPort.get(key(rec.kind, rec.port)) !== rec) {
          // Closed while the driver registered: the close took the old pair; these go too,
          // or they would claim the port's frames for whoever opens it next.
          await Promise.all([this.deregister(rx), this.deregister(icmp)]);
          continue;
        }
        rec.filterId = rx;
        rec.icmpFilterId = icmp;
        await Promise.all(old.map((id) => this.deregister(id)));
      } catch {
        // The client's buffers went meanwhile: its own cleanup closes the port.
      }
    }
    for (const c of this.clients) {
      if (c.alive) c.ep.tx.ip_changed(this.address.ip, this.address.gw, this.address.mask);
    }
  }

  private async checkBuffers(c: Client, rx: number, tx: number): Promise<void> {
    for (const b of [rx, tx]) {
      let owner = this.owners.get(b);
      if (owner === undefined) {
        try {
          owner = (await this.toDriver.run(() => this.driver.rpc.get_buffer_owner(b))).owner;
        } catch {
          this.refuse('PORT_ERR_BAD_BUFFER', `buffer ${b} is not registered with the driver`);
        }
        // A client that went while netd asked leaves nothing behind (its entries went with it).
        if (c.alive) {
          if (this.owners.size >= MAX_CACHED_OWNERS) this.owners.clear();
          this.owners.set(b, owner);
        }
      }
      if (owner !== c.id) this.refuse('PORT_ERR_NOT_OWNER', `buffer ${b} belongs to another client`);
    }
  }

  /**
   * Register a port's two filter pairs (the port's, and ICMP errors about it) at once,
   * for the address netd has now; undone if either fails. Returns their ids and that address.
   */
  private async registerPairs(rec: PortRecord): Promise<[number, number, number]> {
    const ip = this.address.ip;
    const f = this.templates.filters(
      rec.kind,
      ip,
      rec.port,
      directedBroadcast(this.address.ip, this.address.mask),
    );
    const [a, b] = await Promise.allSettled([
      this.toDriver.run(() => this.driver.rpc.register_filter(rec.rx, rec.tx, f.rx, f.tx)),
      this.toDriver.run(() => this.driver.rpc.register_filter(rec.rx, rec.tx, f.icmp, f.tx)),
    ]);
    if (a.status === 'fulfilled' && b.status === 'fulfilled')
      return [a.value.filter_id, b.value.filter_id, ip];
    for (const r of [a, b]) if (r.status === 'fulfilled') await this.deregister(r.value.filter_id);
    throw (a.status === 'rejected' ? a.reason : (b as PromiseRejectedResult).reason) as unknown;
  }

  private async deregister(id: number): Promise<void> {
    try {
      await this.toDriver.run(() => this.driver.rpc.deregister_filter(id));
    } catch {
      // Gone already: the driver dropped it with its client's buffers.
    }
  }

  /** The port is taken: make its filters, register them, and only then is it open. */
  private async open(c: Client, kind: Kind, port: number, rx: number, tx: number): Promise<void> {
    let settle!: () => void;
    const rec: PortRecord = {
      kind,
      port,
      client: c,
      rx,
      tx,
      filterId: 0,
      icmpFilterId: 0,
      state: 'opening',
      abandoned: !c.alive,
      settled: new Promise((r) => {
        settle = r;
      }),
    };
    this.byPort.set(key(kind, port), rec);
    c.ports.add(rec);
    this.held.set(c.id, (this.held.get(c.id) ?? 0) + 1);
    try {
      let ip: number;
      [rec.filterId, rec.icmpFilterId, ip] = await this.registerPairs(rec);
      // The address changed while the driver registered (a lease renewed with another):
      // readdress() skipped this opening port, so it is made again here for the new one.
      while (ip !== this.address.ip && !rec.abandoned) {
        const old = [rec.filterId, rec.icmpFilterId];
        [rec.filterId, rec.icmpFilterId, ip] = await this.registerPairs(rec);
        await Promise.all(old.map((id) => this.deregister(id)));
      }
    } catch (e) {
      this.forget(rec);
      settle();
      const fe = FishnetError.wrap(e);
      if (fe.is('FILTER_ERR_BUFF_NOT_FOUND') || fe.is('E1000_ERR_NOT_OWNER')) {
        this.refuse('PORT_ERR_BAD_BUFFER', `${kind} port ${port}: ${fe.detail ?? fe.errName}`);
      }
      throw fe;
    }
    if (rec.abandoned) {
      // The client went (or closed it) while the driver was registering: never left registered.
      this.stats.abandonedMidOpen++;
      await this.unregister(rec);
      settle();
      this.refuse('PORT_ERR_NOT_FOUND', `${kind} port ${port} was closed while it opened`);
    }
    rec.state = 'open';
    this.stats.opened++;
    settle();
  }

  private async close(rec: PortRecord): Promise<void> {
    if (rec.state === 'opening') {
      rec.abandoned = true;
      await rec.settled;
      return;
    }
    if (rec.state === 'closing') {
      await rec.settled;
      return;
    }
    rec.state = 'closing';
    let settle!: () => void;
    rec.settled = new Promise((r) => {
      settle = r;
    });
    await this.unregister(rec);
    this.stats.closed++;
    settle();
  }

  /** Deregister a port's filters, then free the port: its frames stop before it can be reused. */
  private async unregister(rec: PortRecord): Promise<void> {
    await Promise.all([this.deregister(rec.filterId), this.deregister(rec.icmpFilterId)]);
    this.forget(rec);
  }

  private forget(rec: PortRecord): void {
    const k = key(rec.kind, rec.port);
    if (this.byPort.get(k) === rec) this.byPort.delete(k);
    const c = rec.client;
    c.ports.delete(rec);
    const n = (this.held.get(c.id) ?? 1) - 1;
    if (n > 0) this.held.set(c.id, n);
    else this.held.delete(c.id);
    this.ports.release(rec.kind, rec.port);
    this.releases.released(c.id);
    if (!c.alive && c.ports.size === 0 && c.goneAt > 0) {
      this.stats.cleanups.push({ ports: this.reclaimedOf.get(c) ?? 0, ms: performance.now() - c.goneAt });
      if (this.stats.cleanups.length > 16) this.stats.cleanups.shift();
      this.reclaimedOf.delete(c);
      c.goneAt = 0;
    }
  }

  private readonly reclaimedOf = new Map<Client, number>();

  private clientGone(c: Client): void {
    if (!c.alive) return;
    c.alive = false;
    this.clients.delete(c);
    for (const [b, owner] of this.owners) if (owner === c.id) this.owners.delete(b);
    if (c.ports.size === 0) return;
    c.goneAt = performance.now();
    this.reclaimedOf.set(c, c.ports.size);
    for (const rec of [...c.ports]) {
      this.stats.reclaimed++;
      if (rec.state === 'opening') rec.abandoned = true;
      else if (rec.state === 'open') void this.close(rec);
    }
  }

  private refuse(
    code:
      | 'PORT_ERR_NO_MORE_PORT'
      | 'PORT_ERR_QUOTA'
      | 'PORT_ERR_IN_USE'
      | 'PORT_ERR_NOT_FOUND'
      | 'PORT_ERR_NOT_OWNER'
      | 'PORT_ERR_PRIVILEGED'
      | 'PORT_ERR_BAD_BUFFER',
    detail: string,
  ): never {
    this.stats.refused[code] = (this.stats.refused[code] ?? 0) + 1;
    throw new FishnetError(code, detail);
  }
}

function key(kind: Kind, port: number): string {
  return `${kind}/${port}`;
}
