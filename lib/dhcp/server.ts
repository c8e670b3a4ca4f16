// A DHCP server's logic (RFC 2131 4.3): one pool in one subnet. Pure: receive() takes
// a message that DhcpMessage.attach() accepted and the time, and returns the reply to
// send (or nothing); leases expire by comparing with `now`, so no timer is needed.
//
// Every client is hostile: requests are checked (op, htype, hlen, a message type a
// client may send, a unicast chaddr), and a client can only take, renew, decline or
// release an address that is its own. Memory is bounded by the pool: one record per
// address, one address per client.
import { FishnetError } from '../../protocols/errors.ts';
import {
  BROADCAST_MAC,
  buildDhcp,
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  type DhcpMessage,
  DhcpMessageType,
  DhcpOp,
  dhcpTypeName,
  formatIpv4,
  HTYPE_ETHERNET,
  INFINITE_LEASE,
  IPV4_ANY,
  IPV4_BROADCAST,
  type Ipv4Addr,
  isContiguousMask,
  isHostIpv4,
  isMulticastMac,
  type Mac,
  networkOf,
  subnetBroadcast,
} from '../net/index.ts';

export interface DhcpServerConfig {
  /** This server's address on the subnet: its server identifier. */
  readonly serverId: Ipv4Addr;
  readonly subnetMask: Ipv4Addr;
  /** The pool: poolStart..poolEnd inclusive, inside the subnet (the network, broadcast, server and router addresses are left out). */
  readonly poolStart: Ipv4Addr;
  readonly poolEnd: Ipv4Addr;
  readonly routers?: readonly Ipv4Addr[];
  readonly dns?: readonly Ipv4Addr[];
  /** Seconds granted when the client asks for none. Default 3600; INFINITE_LEASE for ever. */
  readonly leaseSeconds?: number;
  /** The most a client may ask for. Default: leaseSeconds. */
  readonly maxLeaseSeconds?: number;
  /** The least granted, whatever a client asks. Default 60. */
  readonly minLeaseSeconds?: number;
  /** How long an OFFER reserves its address. Default 30,000 ms. */
  readonly offerHoldMs?: number;
  /** How long a DECLINEd address is kept out of the pool. Default 600,000 ms. */
  readonly declineQuarantineMs?: number;
}

/** The reply to send from port 67. */
export interface DhcpServerReply {
  readonly type: number;
  readonly message: Uint8Array;
  readonly dst: Ipv4Addr;
  /** 68 to a client, 67 to a relay agent. */
  readonly dstPort: number;
  /** ff:ff:ff:ff:ff:ff, the client's chaddr, or undefined: resolve dst with ARP (a relay agent). */
  readonly dstMac: Mac | undefined;
}

/** Why a request got no reply. */
export type DhcpServerDrop =
  | 'not-a-request' // op is not BOOTREQUEST
  | 'bad-htype' // not Ethernet
  | 'bad-hlen' // not 6
  | 'bad-chaddr' // a multicast or zero MAC
  | 'no-type' // no option 53 (BOOTP, which this server does not serve)
  | 'bad-type' // a type clients do not send (OFFER, ACK, NAK, unknown)
  | 'foreign-relay' // relayed (giaddr) from a subnet that is not this pool's
  | 'bad-request' // a REQUEST that fits none of RFC 2131's four kinds
  | 'other-server' // a REQUEST or DECLINE naming another server
  | 'unknown-client' // INIT-REBOOT from a client of which this server has no record (RFC 2131: stay silent)
  | 'unknown-address' // renewing an address this server does not manage
  | 'bad-decline' // declining an address that is not the client's
  | 'bad-release' // releasing an address that is not the client's
  | 'bad-inform'; // INFORM without a ciaddr in the subnet

export interface DhcpServerStats {
  /** Requests taken for processing, by type name. */
  readonly received: Record<string, number>;
  offers: number;
  acks: number;
  naks: number;
  declines: number;
  releases: number;
  /** DISCOVERs left without an OFFER because no address was free. */
  exhausted: number;
  /** Passes over the pool looking for lapsed offers, leases and quarantines (at most one per lapse). */
  sweeps: number;
  readonly dropped: Record<DhcpServerDrop, number>;
}

/** What the server knows of an address (for inspection and tests). */
export interface DhcpServerLease {
  readonly address: Ipv4Addr;
  /** 'free' with a client: remembered, so that client gets it back first. */
  readonly state: 'offered' | 'bound' | 'free' | 'declined';
  /** Client key: "id:<hex>" for a client identifier, "hw:<hex>" for chaddr; '' for none. */
  readonly client: string;
  /** When an offer, a lease or a quarantine ends (ms). */
  readonly until: number;
}

type Held = 'offered' | 'bound' | 'released' | 'declined';

interface Binding {
  readonly address: Ipv4Addr;
  state: Held;
  client: string;
  until: number;
}

function badConfig(detail: string): FishnetError {
  return new FishnetError('DHCP_ERR_BAD_CONFIG', detail);
}

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

/** The most addresses one pool may hold: bounds the server's memory. */
export const MAX_POOL = 65536;

export class DhcpServer {
  readonly stats: DhcpServerStats = {
    received: {},
    offers: 0,
    acks: 0,
    naks: 0,
    declines: 0,
    releases: 0,
    exhausted: 0,
    sweeps: 0,
    dropped: {
      'not-a-request': 0,
      'bad-htype': 0,
      'bad-hlen': 0,
      'bad-chaddr': 0,
      'no-type': 0,
      'bad-type': 0,
      'foreign-relay': 0,
      'bad-request': 0,
      'other-server': 0,
      'unknown-client': 0,
      'unknown-address': 0,
      'bad-decline': 0,
      'bad-release': 0,
      'bad-inform': 0,
    },
  };

  readonly serverId: Ipv4Addr;
  private readonly mask: Ipv4Addr;
  private readonly network: Ipv4Addr;
  private readonly poolStart: number;
  private readonly poolEnd: number;
  private readonly routers: readonly Ipv4Addr[];
  private readonly dns: readonly Ipv4Addr[];
  private readonly leaseSeconds: number;
  private readonly maxLeaseSeconds: number;
  private readonly minLeaseSeconds: number;
  private readonly offerHoldMs: number;
  private readonly quarantineMs: number;
  /** Addresses in the pool range that are never given (server, routers, network, broadcast). */
  private readonly reserved = new Set<number>();

  private readonly bindings = new Map<number, Binding>();
  private readonly byClient = new Map<string, Binding>();
  /**
   * Addresses known to be free, least recently freed first: those no client is
   * remembered for, and those kept for the client that had them (given to others
   * only when nothing else is left). Time frees addresses too (a lapsed offer,
   * lease or quarantine); a sweep finds those, and only when one can have lapsed.
   */
  private readonly freeAnon = new Map<number, true>();
  private readonly freeKept = new Map<number, true>();
  /** Next address never handed out. */
  private fresh: number;
  /** No held or quarantined address lapses before this (the next sweep is due then). */
  private nextLapse = Infinity;

  constructor(cfg: DhcpServerConfig) {
    const { serverId, subnetMask: mask, poolStart, poolEnd } = cfg;
    if (!isContiguousMask(mask) || mask === 0 || mask === IPV4_BROADCAST)
      throw badConfig(`subnetMask ${formatIpv4(mask)} is not a usable subnet mask`);
    if (!isHostIpv4(serverId)) throw badConfig(`serverId ${formatIpv4(serverId)} is not a host address`);
    const net = networkOf(serverId, mask);
    const inside = (a: Ipv4Addr) => networkOf(a, mask) === net;
    if (!inside(poolStart) || !inside(poolEnd))
      throw badConfig(
        `pool ${formatIpv4(poolStart)}..${formatIpv4(poolEnd)} is not inside ${formatIpv4(net)}/${formatIpv4(mask)}, the server's subnet`,
      );
    if (poolStart > poolEnd)
      throw badConfig(`pool start ${formatIpv4(poolStart)} is after its end ${formatIpv4(poolEnd)}`);
    if (poolEnd - poolStart + 1 > MAX_POOL)
      throw badConfig(`pool of ${poolEnd - poolStart + 1} addresses; at most ${MAX_POOL}`);
    for (const r of [...(cfg.routers ?? []), ...(cfg.dns ?? [])])
      if (!isHostIpv4(r)) throw badConfig(`router or DNS server ${formatIpv4(r)} is not a host address`);
    const secs = (name: string, v: number | undefined, dflt: number) => {
      if (v === undefined) return dflt;
      if (!(Number.isInteger(v) && v >= 1 && v <= INFINITE_LEASE))
        throw badConfig(`${name} ${String(v)} is not a whole number of seconds 1..${INFINITE_LEASE}`);
      return v;
    };
    const ms = (name: string, v: number | undefined, dflt: number) => {
      if (v === undefined) return dflt;
      if (!(typeof v === 'number' && Number.isFinite(v) && v > 0))
        throw badConfig(`${name} ${String(v)} is not a positive number of milliseconds`);
      return v;
    };
    this.serverId = serverId;
    this.mask = mask;
    this.network = net;
    this.poolStart = poolStart;
    this.poolEnd = poolEnd;
    this.routers = cfg.routers ?? [];
    this.dns = cfg.dns ?? [];
    this.leaseSeconds = secs('leaseSeconds', cfg.leaseSeconds, 3600);
    this.maxLeaseSeconds = secs('maxLeaseSeconds', cfg.maxLeaseSeconds, this.leaseSeconds);
    this.minLeaseSeconds = secs('minLeaseSeconds', cfg.minLeaseSeconds, Math.min(60, this.leaseSeconds));
    if (this.minLeaseSeconds > this.leaseSeconds || this.leaseSeconds > this.maxLeaseSeconds)
      throw badConfig(
        `lease times must satisfy min <= default <= max (got ${this.minLeaseSeconds}, ${this.leaseSeconds}, ${this.maxLeaseSeconds})`,
      );
    this.offerHoldMs = ms('offerHoldMs', cfg.offerHoldMs, 30000);
    this.quarantineMs = ms('declineQuarantineMs', cfg.declineQuarantineMs, 600000);
    for (const a of [net, subnetBroadcast(serverId, mask), serverId, ...this.routers, ...this.dns])
      this.reserved.add(a);
    if (this.poolSize === 0) throw badConfig('the pool holds no address once the reserved ones are left out');
    this.fresh = poolStart;
  }

  /** Addresses the pool can give. */
  get poolSize(): number {
    let n = this.poolEnd - this.poolStart + 1;
    for (const r of this.reserved) if (this.inPool(r as Ipv4Addr)) n--;
    return n;
  }

  /** Handle one request; the reply to send, or undefined (and the reason counted). */
  receive(m: DhcpMessage, now: number): DhcpServerReply | undefined {
    const r = this.handle(m, now);
    if (typeof r === 'string') {
      this.stats.dropped[r]++;
      return undefined;
    }
    return r ?? undefined;
  }

  /** What the server knows of `address` at `now`, or undefined. */
  leaseOf(address: Ipv4Addr, now: number): DhcpServerLease | undefined {
    const b = this.bindings.get(address);
    return b && this.view(b, now);
  }

  /** Every address the server has a record of. */
  leases(now: number): DhcpServerLease[] {
    return [...this.bindings.values()].map((b) => this.view(b, now));
  }

  /** The address the pool holds for a client key (see DhcpServerLease.client), if any. */
  addressOf(client: string): Ipv4Addr | undefined {
    return this.byClient.get(client)?.address;
  }

  private view(b: Binding, now: number): DhcpServerLease {
    const s = this.status(b, now);
    return {
      address: b.address,
      state: s === 'held' ? (b.state as 'offered' | 'bound') : s,
      client: b.client,
      until: b.until,
    };
  }

  /** An address's state at `now`: lapsed offers and leases are free (still remembered), lapsed quarantine free. */
  private status(b: Binding, now: number): 'held' | 'free' | 'declined' {
    if (b.state === 'declined') return now < b.until ? 'declined' : 'free';
    if (b.state === 'released') return 'free';
    return now < b.until ? 'held' : 'free';
  }

  private inPool(a: Ipv4Addr): boolean {
    return a >= this.poolStart && a <= this.poolEnd;
  }

  private onSubnet(a: Ipv4Addr): boolean {
    return networkOf(a, this.mask) === this.network;
  }

  private handle(m: DhcpMessage, now: number): DhcpServerReply | DhcpServerDrop | null {
    if (m.op !== DhcpOp.BOOTREQUEST) return 'not-a-request';
    if (m.htype !== HTYPE_ETHERNET) return 'bad-htype';
    if (m.hlen !== 6) return 'bad-hlen';
    if (m.chaddr === 0 || isMulticastMac(m.chaddr)) return 'bad-chaddr';
    const type = m.messageType;
    if (type === undefined) return 'no-type';
    if (m.giaddr !== IPV4_ANY && !this.onSubnet(m.giaddr)) return 'foreign-relay';
    const name = dhcpTypeName(type);
    switch (type) {
      case DhcpMessageType.DISCOVER:
        this.count(name);
        return this.discover(m, now);
      case DhcpMessageType.REQUEST:
        this.count(name);
        return this.request(m, now);
      case DhcpMessageType.DECLINE:
        this.count(name);
        return this.decline(m, now);
      case DhcpMessageType.RELEASE:
        this.count(name);
        return this.releaseAddr(m, now);
      case DhcpMessageType.INFORM:
        this.count(name);
        return this.inform(m);
      default:
        return 'bad-type';
    }
  }

  private count(name: string): void {
    this.stats.received[name] = (this.stats.received[name] ?? 0) + 1;
  }

  /** The client's key: its identifier (option 61) if it sent one, else its hardware address. */
  private key(m: DhcpMessage): string {
    const id = m.clientId;
    return id ? `id:${hex(id)}` : `hw:${m.htype.toString(16)}:${hex(m.chaddrBytes)}`;
  }

  // --- DISCOVER ---

  private discover(m: DhcpMessage, now: number): DhcpServerReply | DhcpServerDrop | null {
    const client = this.key(m);
    const b = this.choose(client, m.requestedIp, now);
    if (!b) {
      this.stats.exhausted++;
      return null;
    }
    // Reserve it for a short while; a lease the client still holds keeps its own time.
    if (!(b.state === 'bound' && now < b.until)) {
      b.state = 'offered';
      this.hold(b, now + this.offerHoldMs);
    } else {
      this.hold(b, Math.max(b.until, now + this.offerHoldMs));
    }
    this.stats.offers++;
    return this.reply(m, DhcpMessageType.OFFER, b.address, this.grant(m.leaseTime));
  }

  /** RFC 2131 4.3.1's order: the client's current or previous address, the one it asks for, then a free one. */
  private choose(client: string, requested: Ipv4Addr | undefined, now: number): Binding | undefined {
    const own = this.byClient.get(client);
    if (own && this.status(own, now) !== 'declined') return own;
    if (requested !== undefined && this.inPool(requested) && !this.reserved.has(requested)) {
      const r = this.bindings.get(requested);
      if (!r) return this.take(requested, client, now);
      if (this.status(r, now) === 'free' && (r.client === '' || r.client === client))
        return this.take(requested, client, now);
    }
    // Never-used addresses first, so that a remembered one stays for its client as long as possible.
    while (this.fresh <= this.poolEnd) {
      const a = this.fresh++ as Ipv4Addr;
      if (!this.reserved.has(a) && !this.bindings.has(a)) return this.take(a, client, now);
    }
    const a = this.freeAddress(now);
    return a === undefined ? undefined : this.take(a, client, now);
  }

  /** The least recently freed address no client is kept for, else the least recently freed kept one. */
  private freeAddress(now: number): Ipv4Addr | undefined {
    if (now >= this.nextLapse) this.sweep(now);
    for (const map of [this.freeAnon, this.freeKept]) {
      for (const a of map.keys()) {
        map.delete(a);
        return a as Ipv4Addr;
      }
    }
    return undefined;
  }

  /** Find what lapsed by `now` (offers, leases, quarantines): free it, oldest first. O(pool), once per lapse time. */
  private sweep(now: number): void {
    this.stats.sweeps++;
    const lapsed: Binding[] = [];
    let next = Infinity;
    for (const b of this.bindings.values()) {
      if (this.freeAnon.has(b.address) || this.freeKept.has(b.address)) continue;
      if (this.status(b, now) === 'free') lapsed.push(b);
      else next = Math.min(next, b.until);
    }
    lapsed.sort((x, y) => x.until - y.until);
    for (const b of lapsed) (b.client === '' ? this.freeAnon : this.freeKept).set(b.address, true);
    this.nextLapse = next;
  }

  /** `b` is held (offered, bound or quarantined) until `until`. */
  private hold(b: Binding, until: number): void {
    b.until = until;
    this.freeAnon.delete(b.address);
    this.freeKept.delete(b.address);
    if (until < this.nextLapse) this.nextLapse = until;
  }

  /** Give `a` to `client` (forgetting whoever had it, and the client's other address). */
  private take(a: Ipv4Addr, client: string, now: number): Binding {
    const old = this.byClient.get(client);
    if (old && old.address !== a) {
      old.client = '';
      if (old.state !== 'declined') {
        if (old.state !== 'released' && this.status(old, now) === 'held') old.until = now;
        old.state = 'released';
        this.freeKept.delete(old.address);
        this.freeAnon.set(old.address, true);
      }
    }
    let b = this.bindings.get(a);
    if (b) {
      if (b.client && b.client !== client) this.byClient.delete(b.client);
      b.client = client;
    } else {
      b = { address: a, state: 'offered', client, until: 0 };
      this.bindings.set(a, b);
    }
    this.byClient.set(client, b);
    this.freeAnon.delete(a);
    this.freeKept.delete(a);
    return b;
  }

  // --- REQUEST (RFC 2131 4.3.2) ---

  private request(m: DhcpMessage, now: number): DhcpServerReply | DhcpServerDrop | null {
    const client = this.key(m);
    const sid = m.serverId;
    const requested = m.requestedIp;
    const ciaddr = m.ciaddr;
    if (sid !== undefined) {
      // SELECTING: the client took an offer; ours or another server's.
      if (sid !== this.serverId) {
        const own = this.byClient.get(client);
        if (own && own.state === 'offered') {
          own.state = 'released'; // remembered for the client, free for others
          own.until = now;
          this.freeKept.set(own.address, true);
        }
        return 'other-server';
      }
      if (requested === undefined || ciaddr !== IPV4_ANY) return 'bad-request';
      const own = this.byClient.get(client);
      if (own && own.address === requested && this.status(own, now) !== 'declined')
        return this.ack(m, own, now);
      return this.nak(m, `${formatIpv4(requested)} was not offered to this client`);
    }
    if (requested !== undefined) {
      // INIT-REBOOT: a client that remembers an address asks for it back.
      if (ciaddr !== IPV4_ANY) return 'bad-request';
      if (!this.onSubnet(requested)) return this.nak(m, `${formatIpv4(requested)} is not on this network`);
      const b = this.bindings.get(requested);
      if (b && b.client === client && this.status(b, now) !== 'declined') return this.ack(m, b, now);
      if (b && b.client !== client && this.status(b, now) === 'held')
        return this.nak(m, `${formatIpv4(requested)} belongs to another client`);
      if (!this.byClient.has(client)) return 'unknown-client';
      return this.nak(m, `${formatIpv4(requested)} is not this client's address`);
    }
    if (ciaddr !== IPV4_ANY) {
      // RENEWING (unicast) or REBINDING (broadcast): extend the lease on ciaddr.
      if (!this.onSubnet(ciaddr)) return this.nak(m, `${formatIpv4(ciaddr)} is not on this network`);
      const b = this.bindings.get(ciaddr);
      if (b && b.client === client && this.status(b, now) !== 'declined') return this.ack(m, b, now);
      if (b && b.client !== client && this.status(b, now) === 'held')
        return this.nak(m, `${formatIpv4(ciaddr)} belongs to another client`);
      if (
        this.inPool(ciaddr) &&
        !this.reserved.has(ciaddr) &&
        (!b || (b.client === '' && this.status(b, now) === 'free'))
      )
        return this.ack(m, this.take(ciaddr, client, now), now); // a lease this server forgot (it restarted): grant it again
      return 'unknown-address';
    }
    return 'bad-request';
  }

  private ack(m: DhcpMessage, b: Binding, now: number): DhcpServerReply {
    const secs = this.grant(m.leaseTime);
    b.state = 'bound';
    this.hold(b, secs === INFINITE_LEASE ? Infinity : now + secs * 1000);
    this.stats.acks++;
    return this.reply(m, DhcpMessageType.ACK, b.address, secs);
  }

  private nak(m: DhcpMessage, why: string): DhcpServerReply {
    this.stats.naks++;
    return this.reply(m, DhcpMessageType.NAK, IPV4_ANY, undefined, why);
  }

  /** The lease to grant for a request of `asked` seconds (or none). */
  private grant(asked: number | undefined): number {
    if (asked === undefined) return this.leaseSeconds;
    return Math.max(this.minLeaseSeconds, Math.min(asked, this.maxLeaseSeconds));
  }

  // --- DECLINE, RELEASE, INFORM ---

  private decline(m: DhcpMessage, now: number): DhcpServerDrop | null {
    const sid = m.serverId;
    if (sid !== undefined && sid !== this.serverId) return 'other-server';
    const a = m.requestedIp;
    const b = a === undefined ? undefined : this.bindings.get(a);
    const client = this.key(m);
    // Only the client the address was given to may say it is in use: anyone else could evict a neighbour.
    if (!b || b.client !== client || this.status(b, now) !== 'held') return 'bad-decline';
    this.byClient.delete(client);
    b.client = '';
    b.state = 'declined';
    this.hold(b, now + this.quarantineMs);
    this.stats.declines++;
    return null;
  }

  private releaseAddr(m: DhcpMessage, now: number): DhcpServerDrop | null {
    const sid = m.serverId;
    if (sid !== undefined && sid !== this.serverId) return 'other-server';
    const b = this.bindings.get(m.ciaddr);
    if (!b || b.client !== this.key(m) || b.state !== 'bound' || now >= b.until) return 'bad-release';
    b.state = 'released'; // remembered: the client gets it back if it comes again
    b.until = now;
    this.freeKept.set(b.address, true);
    this.stats.releases++;
    return null;
  }

  private inform(m: DhcpMessage): DhcpServerReply | DhcpServerDrop {
    if (m.ciaddr === IPV4_ANY || !this.onSubnet(m.ciaddr)) return 'bad-inform';
    this.stats.acks++;
    return this.reply(m, DhcpMessageType.ACK, IPV4_ANY, undefined);
  }

  // --- replies ---

  /** A reply of `type` with `yiaddr`; a lease of `secs` (none for INFORM and NAK); `why` on a NAK. */
  private reply(
    m: DhcpMessage,
    type: number,
    yiaddr: Ipv4Addr,
    secs: number | undefined,
    why?: string,
  ): DhcpServerReply {
    const nak = type === DhcpMessageType.NAK;
    const lease = secs !== undefined && secs !== INFINITE_LEASE;
    const message = buildDhcp({
      op: DhcpOp.BOOTREPLY,
      xid: m.xid,
      // A NAK through a relay asks it to broadcast (RFC 2131 4.3.2).
      flags: nak && m.giaddr !== IPV4_ANY ? 0x8000 : m.flags,
      ciaddr: type === DhcpMessageType.ACK ? m.ciaddr : IPV4_ANY,
      yiaddr,
      giaddr: m.giaddr,
      chaddr: m.chaddrBytes,
      hlen: m.hlen,
      htype: m.htype,
      messageType: type,
      serverId: this.serverId,
      leaseTime: secs,
      renewalTime: lease ? Math.floor(secs * 0.5) : undefined,
      rebindingTime: lease ? Math.floor(secs * 0.875) : undefined,
      subnetMask: nak ? undefined : this.mask,
      routers: nak ? undefined : this.routers,
      dns: nak ? undefined : this.dns,
      message: why,
    });
    // RFC 2131 4.1: where a reply goes.
    if (m.giaddr !== IPV4_ANY)
      return { type, message, dst: m.giaddr, dstPort: DHCP_SERVER_PORT, dstMac: undefined };
    if (nak) return { type, message, dst: IPV4_BROADCAST, dstPort: DHCP_CLIENT_PORT, dstMac: BROADCAST_MAC };
    if (m.ciaddr !== IPV4_ANY)
      return { type, message, dst: m.ciaddr, dstPort: DHCP_CLIENT_PORT, dstMac: m.chaddr };
    if (m.broadcast)
      return { type, message, dst: IPV4_BROADCAST, dstPort: DHCP_CLIENT_PORT, dstMac: BROADCAST_MAC };
    return { type, message, dst: yiaddr, dstPort: DHCP_CLIENT_PORT, dstMac: m.chaddr };
  }
}
