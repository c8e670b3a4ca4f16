// The DHCP client's state machine (RFC 2131 4.4): INIT, SELECTING, REQUESTING,
// BOUND, RENEWING, REBINDING, and INIT-REBOOT / REBOOTING when the client remembers
// an address. Pure: it owns no socket and no timer. Time comes in as `now` (ms),
// randomness from an injected Prng, and every input returns the actions the host
// must carry out (send a message, arm the one timer, probe an address with ARP,
// the lease is bound or lost, give up).
//
// The host: wraps `send` in UDP 68 -> 67 (src and dst given), delivers replies to
// receive() after DhcpMessage.attach() accepted them, arms one timer at the last
// `timer` deadline (each replaces the one before) and calls timer() when it fires
// (early or late is fine: the client compares `now` with its own deadlines; a timer
// that fired is spent, and timer() arms it again if the client still needs it), and
// answers each `probe` with probeResult() after its ARP probe (RFC 5227).
import { FishnetError } from '../../protocols/errors.ts';
import {
  buildDhcp,
  classfulMask,
  type DhcpMessage,
  DhcpMessageType,
  DhcpOp,
  DhcpOption,
  dhcpTypeName,
  ethernetClientId,
  formatIpv4,
  formatMac,
  HTYPE_ETHERNET,
  INFINITE_LEASE,
  IPV4_ANY,
  IPV4_BROADCAST,
  type Ipv4Addr,
  isContiguousMask,
  isHostIpv4,
  isMac,
  isMulticastMac,
  type Mac,
} from '../net/index.ts';
import { type Prng, uniform } from './prng.ts';

export type DhcpClientState =
  | 'STOPPED'
  | 'INIT'
  | 'SELECTING'
  | 'REQUESTING'
  /** Not an RFC state: the ACK is in, and the host is probing the address with ARP. */
  | 'PROBING'
  | 'BOUND'
  | 'RENEWING'
  | 'REBINDING'
  /** INIT-REBOOT sends its REQUEST at once, so REBOOTING is the state one sees. */
  | 'REBOOTING'
  /** Gave up: no lease within the time limit. start() again to retry. */
  | 'FAILED';

export interface DhcpLease {
  readonly address: Ipv4Addr;
  readonly mask: Ipv4Addr;
  /** The first router, if the server named any. */
  readonly router: Ipv4Addr | undefined;
  readonly routers: readonly Ipv4Addr[];
  readonly dns: readonly Ipv4Addr[];
  /** The server identifier: where renewals go. */
  readonly server: Ipv4Addr;
  /** Seconds, as granted; INFINITE_LEASE for ever. */
  readonly leaseSeconds: number;
  /** When the REQUEST that got this lease was first sent: the lease counts from there (RFC 2131 4.4.1). */
  readonly obtainedAt: number;
  /** Deadlines in ms (Infinity for an infinite lease): renew, rebind, expire. */
  readonly t1At: number;
  readonly t2At: number;
  readonly expiresAt: number;
}

export type LeaseLostReason = 'expired' | 'nak' | 'released' | 'stopped';

export type DhcpClientAction =
  /** Send `message` (a UDP payload) from port 68 to port 67 at `dst`; broadcast: to ff:ff:ff:ff:ff:ff. */
  | {
      readonly kind: 'send';
      readonly type: number;
      readonly message: Uint8Array;
      readonly src: Ipv4Addr;
      readonly dst: Ipv4Addr;
      readonly broadcast: boolean;
    }
  /** Arm the client's one timer at `at` (ms), replacing any armed before. */
  | { readonly kind: 'timer'; readonly at: number }
  | { readonly kind: 'cancel-timer' }
  /** Probe `address` with ARP and report with probeResult(). */
  | { readonly kind: 'probe'; readonly address: Ipv4Addr }
  /** Configure the interface with this lease (again, with `renewed`, after a renewal). */
  | { readonly kind: 'bound'; readonly lease: DhcpLease; readonly renewed: boolean }
  /** Stop using `address` now. */
  | {
      readonly kind: 'lease-lost';
      readonly address: Ipv4Addr;
      readonly reason: LeaseLostReason;
      readonly detail: string;
    }
  /** No lease within the time limit: DHCP_ERR_NO_SERVER or DHCP_ERR_NO_LEASE. */
  | { readonly kind: 'failed'; readonly error: FishnetError };

/** Why a received message was ignored. */
export type DhcpClientIgnore =
  | 'not-a-reply' // op is not BOOTREPLY
  | 'wrong-xid' // another transaction's
  | 'wrong-chaddr' // another client's (or not Ethernet)
  | 'no-type' // no option 53: BOOTP, not DHCP
  | 'unexpected' // a type this state does not take (an OFFER while BOUND)
  | 'wrong-server' // an ACK or NAK from a server other than the one asked
  | 'bad-offer' // an unusable address, or no server identifier
  | 'bad-ack' // another address than asked, no or zero lease time, a mask that is not a mask
  | 'stale-probe'; // a probe result for an address not being probed

export interface DhcpClientStats {
  /** Messages sent, by type name (DISCOVER, REQUEST, DECLINE, RELEASE). */
  readonly sent: Record<string, number>;
  retransmissions: number;
  offers: number;
  acks: number;
  naks: number;
  declines: number;
  /** Leases bound (a renewal counts too). */
  bound: number;
  readonly ignored: Record<DhcpClientIgnore, number>;
}

export interface DhcpClientConfig {
  readonly mac: Mac;
  readonly random: Prng;
  /** Give up acquiring a lease after this long (ms; Infinity: never). Default 60,000. */
  readonly acquireTimeoutMs?: number;
  /** Probe an ACKed address with ARP before using it. Default true. */
  readonly probe?: boolean;
  /** Ask servers to answer by broadcast (for a stack that cannot take unicast before it has an address). Default true. */
  readonly broadcastFlag?: boolean;
  /** Option 12. */
  readonly hostName?: string;
  /** Option 61; default type 1 and the MAC. */
  readonly clientId?: Uint8Array;
  /** Option 55. Default: mask, router, DNS, lease time, server id, T1, T2. */
  readonly parameterRequestList?: readonly number[];
  /** Wait after a DECLINE before starting again (RFC 2131 3.1.5 says at least 10 s). Default 10,000. */
  readonly declineWaitMs?: number;
  /** REQUESTs sent in REQUESTING or REBOOTING without an answer before going back to INIT. Default 4 (4+8+16+32 s). */
  readonly maxRequestAttempts?: number;
}

const DEFAULT_PRL = [
  DhcpOption.SUBNET_MASK,
  DhcpOption.ROUTER,
  DhcpOption.DNS,
  DhcpOption.LEASE_TIME,
  DhcpOption.SERVER_ID,
  DhcpOption.RENEWAL_TIME,
  DhcpOption.REBINDING_TIME,
];
/** RFC 2131 4.1: the first retransmission after 4 s, doubling to 64 s, each ±1 s. */
const FIRST_BACKOFF_MS = 4000;
const MAX_BACKOFF_MS = 64000;
const JITTER_MS = 1000;
/** RFC 2131 4.4.5: in RENEWING and REBINDING retransmit after half the time left, but not sooner than 60 s. */
const MIN_RENEW_RETRY_MS = 60000;

function badConfig(detail: string): FishnetError {
  return new FishnetError('DHCP_ERR_BAD_CONFIG', detail);
}

export class DhcpClient {
  readonly stats: DhcpClientStats = {
    sent: {},
    retransmissions: 0,
    offers: 0,
    acks: 0,
    naks: 0,
    declines: 0,
    bound: 0,
    ignored: {
      'not-a-reply': 0,
      'wrong-xid': 0,
      'wrong-chaddr': 0,
      'no-type': 0,
      unexpected: 0,
      'wrong-server': 0,
      'bad-offer': 0,
      'bad-ack': 0,
      'stale-probe': 0,
    },
  };

  private readonly mac: Mac;
  private readonly random: Prng;
  private readonly acquireTimeoutMs: number;
  private readonly probe: boolean;
  private readonly broadcastFlag: boolean;
  private readonly hostName: string | undefined;
  private readonly clientId: Uint8Array;
  private readonly prl: readonly number[];
  private readonly declineWaitMs: number;
  private readonly maxRequestAttempts: number;

  private st: DhcpClientState = 'STOPPED';
  private xid = 0;
  /** When the current exchange began (for the secs field). */
  private exchangeStart = 0;
  /** The pending transmission: when to send again, how many sent. */
  private retransmitAt = Infinity;
  private attempts = 0;
  /** INIT: when to send the DISCOVER. */
  private initAt = Infinity;
  /** While acquiring: when to give up, and what happened so far (for the error). */
  private acquireDeadline = Infinity;
  private heardFromServer = false;
  private acquireNaks = 0;
  private acquireDeclines = 0;
  private acquireUnanswered = 0;
  private acquireDiscovers = 0;
  /** The last NAK's message, for the error. */
  private lastNak = '';
  /** SELECTING/REQUESTING: the offer taken. REBOOTING: the address asked for. */
  private offered: Ipv4Addr = IPV4_ANY;
  private offerServer: Ipv4Addr = IPV4_ANY;
  /** When the answered REQUEST was first sent. */
  private requestSentAt = 0;
  /** PROBING: the lease waiting for the probe. BOUND and later: the lease held. */
  private pending: DhcpLease | undefined;
  private held: DhcpLease | undefined;
  /** An address to ask for again in the next DISCOVER (the one a lease just lost). */
  private hint: Ipv4Addr = IPV4_ANY;
  private armed = Infinity;

  constructor(cfg: DhcpClientConfig) {
    if (!isMac(cfg.mac) || isMulticastMac(cfg.mac) || cfg.mac === 0)
      throw badConfig(`mac ${String(cfg.mac)} is not a unicast MAC address`);
    if (!cfg.random || typeof cfg.random.nextU32 !== 'function')
      throw badConfig('random must be a Prng (an object with nextU32())');
    const ms = (name: string, v: number | undefined, dflt: number, allowInfinity: boolean) => {
      if (v === undefined) return dflt;
      if (!(typeof v === 'number' && v > 0 && (Number.isFinite(v) || (allowInfinity && v === Infinity))))
        throw badConfig(`${name} ${String(v)} is not a positive number of milliseconds`);
      return v;
    };
    this.mac = cfg.mac;
    this.random = cfg.random;
    this.acquireTimeoutMs = ms('acquireTimeoutMs', cfg.acquireTimeoutMs, 60000, true);
    this.declineWaitMs = ms('declineWaitMs', cfg.declineWaitMs, 10000, false);
    const attempts = cfg.maxRequestAttempts ?? 4;
    if (!(Number.isInteger(attempts) && attempts >= 1 && attempts <= 100))
      throw badConfig(`maxRequestAttempts ${String(attempts)} is not an integer 1..100`);
    this.maxRequestAttempts = attempts;
    this.probe = cfg.probe ?? true;
    this.broadcastFlag = cfg.broadcastFlag ?? true;
    this.hostName = cfg.hostName;
    this.clientId = cfg.clientId ?? ethernetClientId(cfg.mac);
    this.prl = cfg.parameterRequestList ?? DEFAULT_PRL;
    // Let the builder refuse what it cannot encode now, not at the first send.
    try {
      buildDhcp({
        op: DhcpOp.BOOTREQUEST,
        xid: 0,
        chaddr: this.mac,
        hostName: this.hostName,
        clientId: this.clientId,
        parameterRequestList: this.prl,
      });
    } catch (e) {
      throw badConfig((e as Error).message);
    }
  }

  get state(): DhcpClientState {
    return this.st;
  }

  /** The lease in use (BOUND, RENEWING, REBINDING), if any. */
  get lease(): DhcpLease | undefined {
    return this.held;
  }

  /** When the client next needs timer() (Infinity: not until some input). */
  get deadline(): number {
    switch (this.st) {
      case 'INIT':
        return Math.min(this.initAt, this.acquireDeadline);
      case 'SELECTING':
      case 'REQUESTING':
      case 'REBOOTING':
        return Math.min(this.retransmitAt, this.acquireDeadline);
      case 'PROBING':
        return this.acquireDeadline;
      case 'BOUND':
        return Math.min(this.held!.t1At, this.held!.t2At, this.held!.expiresAt);
      case 'RENEWING':
        return Math.min(this.retransmitAt, this.held!.t2At, this.held!.expiresAt);
      case 'REBINDING':
        return Math.min(this.retransmitAt, this.held!.expiresAt);
      default:
        return Infinity;
    }
  }

  /**
   * Begin acquiring a lease. With `previous` (an address this client held before a
   * restart), ask for it back first (INIT-REBOOT); otherwise DISCOVER at once.
   */
  start(now: number, opts: { previous?: Ipv4Addr } = {}): DhcpClientAction[] {
    if (this.st !== 'STOPPED' && this.st !== 'FAILED')
      throw new FishnetError('LWIP_ERR_INPROGRESS', `DHCP client already started (state ${this.st})`);
    const out: DhcpClientAction[] = [];
    this.beginAcquiring(now);
    const previous = opts.previous !== undefined && isHostIpv4(opts.previous) ? opts.previous : undefined;
    this.hint = previous ?? IPV4_ANY;
    if (previous !== undefined) {
      this.offered = previous;
      this.offerServer = IPV4_ANY;
      this.newExchange(now);
      this.st = 'REBOOTING';
      this.sendRequest(now, out);
    } else {
      this.toInit(now, now, out);
    }
    return this.withTimer(out);
  }

  /** Give the address back (RELEASE, unicast to the server) and stop. */
  release(now: number): DhcpClientAction[] {
    const out: DhcpClientAction[] = [];
    const l = this.held;
    if (l) {
      this.xid = this.random.nextU32();
      out.push(
        this.message(DhcpMessageType.RELEASE, now, {
          ciaddr: l.address,
          serverId: l.server,
          src: l.address,
          dst: l.server,
          broadcast: false,
        }),
      );
      out.push({
        kind: 'lease-lost',
        address: l.address,
        reason: 'released',
        detail: 'released by the host',
      });
    }
    this.reset('STOPPED');
    return this.withTimer(out);
  }

  /** Stop without a RELEASE (the lease, if any, is lost to this host). */
  stop(): DhcpClientAction[] {
    const out: DhcpClientAction[] = [];
    if (this.held)
      out.push({
        kind: 'lease-lost',
        address: this.held.address,
        reason: 'stopped',
        detail: 'client stopped',
      });
    this.reset('STOPPED');
    return this.withTimer(out);
  }

  /** The timer fired (or the host polls): act on every deadline that has passed. */
  timer(now: number): DhcpClientAction[] {
    const out: DhcpClientAction[] = [];
    this.armed = Infinity; // whatever was armed has fired
    const acquiring =
      this.st === 'INIT' ||
      this.st === 'SELECTING' ||
      this.st === 'REQUESTING' ||
      this.st === 'PROBING' ||
      this.st === 'REBOOTING';
    if (acquiring && now >= this.acquireDeadline) {
      this.fail(out);
      return this.withTimer(out);
    }
    switch (this.st) {
      case 'INIT':
        if (now >= this.initAt) this.sendDiscover(now, out);
        break;
      case 'SELECTING':
        if (now >= this.retransmitAt) {
          this.stats.retransmissions++;
          this.sendDiscover(now, out, true);
        }
        break;
      case 'REQUESTING':
      case 'REBOOTING':
        if (now >= this.retransmitAt) {
          if (this.attempts >= this.maxRequestAttempts) {
            // RFC 2131 3.1.5 / 3.2: neither ACK nor NAK after the retransmissions: start over.
            this.acquireUnanswered++;
            this.toInit(now, now, out);
          } else {
            this.stats.retransmissions++;
            this.sendRequest(now, out);
          }
        }
        break;
      case 'BOUND':
      case 'RENEWING':
      case 'REBINDING':
        this.leaseTimers(now, out);
        break;
      default:
        break;
    }
    return this.withTimer(out);
  }

  /** A DHCP message arrived (attach() accepted it). Not ours, or not now: ignored and counted. */
  receive(m: DhcpMessage, now: number): DhcpClientAction[] {
    const out: DhcpClientAction[] = [];
    const why = this.take(m, now, out);
    if (why !== undefined) this.stats.ignored[why]++;
    return this.withTimer(out);
  }

  /** The host's ARP probe of `address` found it `taken` (someone answered) or free. */
  probeResult(address: Ipv4Addr, taken: boolean, now: number): DhcpClientAction[] {
    const out: DhcpClientAction[] = [];
    const p = this.pending;
    if (this.st !== 'PROBING' || !p || p.address !== address) {
      this.stats.ignored['stale-probe']++;
      return this.withTimer(out);
    }
    this.pending = undefined;
    if (!taken) {
      this.bind(p, false, out);
    } else {
      // RFC 2131 3.1.5: DECLINE, then wait before starting again.
      this.stats.declines++;
      this.acquireDeclines++;
      out.push(
        this.message(DhcpMessageType.DECLINE, now, {
          requestedIp: address,
          serverId: p.server,
          message: 'address in use (ARP probe answered)',
          src: IPV4_ANY,
          dst: IPV4_BROADCAST,
          broadcast: true,
        }),
      );
      this.hint = IPV4_ANY;
      this.toInit(now, now + this.declineWaitMs, out);
    }
    return this.withTimer(out);
  }

  // --- receiving ---

  private take(m: DhcpMessage, now: number, out: DhcpClientAction[]): DhcpClientIgnore | undefined {
    if (m.op !== DhcpOp.BOOTREPLY) return 'not-a-reply';
    if (m.htype !== HTYPE_ETHERNET || m.hlen !== 6 || m.chaddr !== this.mac) return 'wrong-chaddr';
    const waiting =
      this.st === 'SELECTING' ||
      this.st === 'REQUESTING' ||
      this.st === 'REBOOTING' ||
      this.st === 'RENEWING' ||
      this.st === 'REBINDING';
    if (!waiting) return 'unexpected';
    if (m.xid !== this.xid) return 'wrong-xid';
    const type = m.messageType;
    if (type === undefined) return 'no-type';
    switch (this.st) {
      case 'SELECTING':
        return type === DhcpMessageType.OFFER ? this.takeOffer(m, now, out) : 'unexpected';
      case 'REQUESTING':
      case 'REBOOTING':
      case 'RENEWING':
      case 'REBINDING':
        if (type === DhcpMessageType.ACK) return this.takeAck(m, out);
        if (type === DhcpMessageType.NAK) return this.takeNak(m, now, out);
        return 'unexpected';
      default:
        return 'unexpected';
    }
  }

  private takeOffer(m: DhcpMessage, now: number, out: DhcpClientAction[]): DhcpClientIgnore | undefined {
    const server = m.serverId;
    if (!isHostIpv4(m.yiaddr) || server === undefined || !isHostIpv4(server)) return 'bad-offer';
    this.stats.offers++;
    this.heardFromServer = true;
    // The first good offer wins (RFC 2131 4.4.1 lets the client choose; waiting for more only delays).
    this.offered = m.yiaddr;
    this.offerServer = server;
    this.st = 'REQUESTING';
    this.attempts = 0;
    this.sendRequest(now, out);
    return undefined;
  }

  /** The server an ACK or NAK must come from in this state, or undefined for any. */
  private expectedServer(): Ipv4Addr | undefined {
    if (this.st === 'REQUESTING') return this.offerServer;
    if (this.st === 'RENEWING') return this.held!.server;
    return undefined; // REBOOTING and REBINDING: whichever server knows us
  }

  private takeAck(m: DhcpMessage, out: DhcpClientAction[]): DhcpClientIgnore | undefined {
    const expect = this.expectedServer();
    const server = m.serverId;
    if (expect !== undefined && server !== undefined && server !== expect) return 'wrong-server';
    const want = this.held ? this.held.address : this.offered;
    if (m.yiaddr !== want) return 'bad-ack';
    const secs = m.leaseTime;
    if (secs === undefined || secs === 0) return 'bad-ack';
    const mask = m.subnetMask ?? classfulMask(want);
    if (!isContiguousMask(mask)) return 'bad-ack';
    const from = server ?? expect ?? this.held?.server ?? IPV4_ANY;
    if (!isHostIpv4(from)) return 'bad-ack';
    this.stats.acks++;
    this.heardFromServer = true;
    const lease = this.leaseFrom(m, want, mask, from, secs);
    if (this.held) {
      // A renewal or a rebinding: the address stays, the times and parameters are new.
      this.bind(lease, true, out);
    } else if (this.probe) {
      this.pending = lease;
      this.st = 'PROBING';
      this.retransmitAt = Infinity;
      out.push({ kind: 'probe', address: want });
    } else {
      this.bind(lease, false, out);
    }
    return undefined;
  }

  private takeNak(m: DhcpMessage, now: number, out: DhcpClientAction[]): DhcpClientIgnore | undefined {
    const expect = this.expectedServer();
    const server = m.serverId;
    // A NAK names its server (RFC 2131 table 3); one that names another is not for this exchange.
    if (expect !== undefined && server !== undefined && server !== expect) return 'wrong-server';
    this.stats.naks++;
    this.heardFromServer = true;
    this.lastNak = m.message ?? '';
    const detail = `NAK from ${server === undefined ? 'a server' : formatIpv4(server)}${this.lastNak ? `: ${this.lastNak}` : ''}`;
    const held = this.held;
    if (held) {
      out.push({ kind: 'lease-lost', address: held.address, reason: 'nak', detail });
      this.held = undefined;
      this.hint = IPV4_ANY; // the server said no to this address
      this.beginAcquiring(now);
      this.toInit(now, now, out);
    } else {
      this.acquireNaks++;
      this.hint = IPV4_ANY;
      // RFC 2131 says restart; after repeated NAKs in one acquisition, back off so a
      // server that NAKs everything is not answered with a storm of DISCOVERs.
      const delay = this.acquireNaks <= 1 ? 0 : this.backoff(this.acquireNaks - 2);
      this.toInit(now, now + delay, out);
    }
    return undefined;
  }

  private leaseFrom(
    m: DhcpMessage,
    address: Ipv4Addr,
    mask: Ipv4Addr,
    server: Ipv4Addr,
    secs: number,
  ): DhcpLease {
    const start = this.requestSentAt;
    let t1At = Infinity;
    let t2At = Infinity;
    let expiresAt = Infinity;
    if (secs !== INFINITE_LEASE) {
      const lease = secs * 1000;
      // T1 < T2 < lease (RFC 2131 4.4.5); values that break the order are replaced by the defaults.
      let t1 = (m.renewalTime ?? -1) * 1000;
      let t2 = (m.rebindingTime ?? -1) * 1000;
      if (!(t2 > 0 && t2 < lease)) t2 = Math.floor(lease * 0.875);
      if (!(t1 > 0 && t1 < t2)) t1 = Math.floor(lease * 0.5);
      if (t1 >= t2) t1 = Math.floor(t2 / 2);
      t1At = start + t1;
      t2At = start + t2;
      expiresAt = start + lease;
    }
    const routers = m.routers();
    return {
      address,
      mask,
      router: routers[0],
      routers,
      dns: m.dnsServers(),
      server,
      leaseSeconds: secs,
      obtainedAt: start,
      t1At,
      t2At,
      expiresAt,
    };
  }

  private bind(lease: DhcpLease, renewed: boolean, out: DhcpClientAction[]): void {
    this.held = lease;
    this.pending = undefined;
    this.st = 'BOUND';
    this.retransmitAt = Infinity;
    this.acquireDeadline = Infinity;
    this.stats.bound++;
    out.push({ kind: 'bound', lease, renewed });
  }

  // --- timers of a held lease ---

  private leaseTimers(now: number, out: DhcpClientAction[]): void {
    const l = this.held!;
    if (now >= l.expiresAt) {
      out.push({
        kind: 'lease-lost',
        address: l.address,
        reason: 'expired',
        detail: `lease of ${l.leaseSeconds} s from ${formatIpv4(l.server)} expired unrenewed`,
      });
      this.held = undefined;
      this.hint = l.address; // ask for it again: the server may still have it for us
      this.beginAcquiring(now);
      this.toInit(now, now, out);
      return;
    }
    if (now >= l.t2At) {
      if (this.st !== 'REBINDING') {
        // RFC 2131 4.4.5: the server did not renew; ask any server, by broadcast.
        this.st = 'REBINDING';
        this.newExchange(now);
        this.sendRequest(now, out);
      } else if (now >= this.retransmitAt) {
        this.stats.retransmissions++;
        this.sendRequest(now, out);
      }
      return;
    }
    if (now >= l.t1At) {
      if (this.st === 'BOUND') {
        this.st = 'RENEWING';
        this.newExchange(now);
        this.sendRequest(now, out);
      } else if (now >= this.retransmitAt) {
        this.stats.retransmissions++;
        this.sendRequest(now, out);
      }
    }
  }

  // --- sending ---

  private beginAcquiring(now: number): void {
    this.acquireDeadline = now + this.acquireTimeoutMs;
    this.heardFromServer = false;
    this.acquireNaks = 0;
    this.acquireDeclines = 0;
    this.acquireUnanswered = 0;
    this.acquireDiscovers = 0;
    this.lastNak = '';
  }

  /** Go to INIT and DISCOVER at `at` (now, or after a wait). */
  private toInit(now: number, at: number, out: DhcpClientAction[]): void {
    this.st = 'INIT';
    this.pending = undefined;
    this.retransmitAt = Infinity;
    this.initAt = at;
    if (at <= now) this.sendDiscover(now, out);
  }

  private newExchange(now: number): void {
    this.xid = this.random.nextU32();
    this.exchangeStart = now;
    this.attempts = 0;
  }

  private backoff(n: number): number {
    const base = Math.min(FIRST_BACKOFF_MS * 2 ** n, MAX_BACKOFF_MS);
    return Math.round(base + uniform(this.random, -JITTER_MS, JITTER_MS));
  }

  private sendDiscover(now: number, out: DhcpClientAction[], again = false): void {
    if (!again) {
      this.st = 'SELECTING';
      this.initAt = Infinity;
      this.newExchange(now);
    }
    this.acquireDiscovers++;
    out.push(
      this.message(DhcpMessageType.DISCOVER, now, {
        requestedIp: this.hint === IPV4_ANY ? undefined : this.hint,
        src: IPV4_ANY,
        dst: IPV4_BROADCAST,
        broadcast: true,
      }),
    );
    this.retransmitAt = now + this.backoff(this.attempts);
    this.attempts++;
  }

  /** A REQUEST as this state sends it (RFC 2131 table 4). */
  private sendRequest(now: number, out: DhcpClientAction[]): void {
    if (this.attempts === 0) this.requestSentAt = now;
    const l = this.held;
    switch (this.st) {
      case 'REQUESTING':
        out.push(
          this.message(DhcpMessageType.REQUEST, now, {
            requestedIp: this.offered,
            serverId: this.offerServer,
            src: IPV4_ANY,
            dst: IPV4_BROADCAST,
            broadcast: true,
          }),
        );
        this.retransmitAt = now + this.backoff(this.attempts);
        break;
      case 'REBOOTING':
        out.push(
          this.message(DhcpMessageType.REQUEST, now, {
            requestedIp: this.offered,
            src: IPV4_ANY,
            dst: IPV4_BROADCAST,
            broadcast: true,
          }),
        );
        this.retransmitAt = now + this.backoff(this.attempts);
        break;
      case 'RENEWING':
        out.push(
          this.message(DhcpMessageType.REQUEST, now, {
            ciaddr: l!.address,
            src: l!.address,
            dst: l!.server,
            broadcast: false,
          }),
        );
        this.retransmitAt = now + Math.max((l!.t2At - now) / 2, MIN_RENEW_RETRY_MS);
        break;
      case 'REBINDING':
        out.push(
          this.message(DhcpMessageType.REQUEST, now, {
            ciaddr: l!.address,
            src: l!.address,
            dst: IPV4_BROADCAST,
            broadcast: true,
          }),
        );
        this.retransmitAt = now + Math.max((l!.expiresAt - now) / 2, MIN_RENEW_RETRY_MS);
        break;
      default:
        throw new Error(`DHCP client bug: REQUEST in state ${this.st}`);
    }
    this.attempts++;
  }

  private message(
    type: number,
    now: number,
    f: {
      ciaddr?: Ipv4Addr;
      requestedIp?: Ipv4Addr;
      serverId?: Ipv4Addr;
      message?: string;
      src: Ipv4Addr;
      dst: Ipv4Addr;
      broadcast: boolean;
    },
  ): DhcpClientAction {
    const name = dhcpTypeName(type);
    this.stats.sent[name] = (this.stats.sent[name] ?? 0) + 1;
    // RELEASE and DECLINE carry no parameter requests or host name (RFC 2131 table 5).
    const full = type === DhcpMessageType.DISCOVER || type === DhcpMessageType.REQUEST;
    const message = buildDhcp({
      op: DhcpOp.BOOTREQUEST,
      xid: this.xid,
      secs: full ? Math.floor(Math.max(0, now - this.exchangeStart) / 1000) : 0,
      // Only a client without an address asks for broadcast replies (RFC 2131 4.1).
      broadcast: full && this.broadcastFlag && f.ciaddr === undefined,
      ciaddr: f.ciaddr,
      chaddr: this.mac,
      messageType: type,
      requestedIp: f.requestedIp,
      serverId: f.serverId,
      clientId: this.clientId,
      parameterRequestList: full ? this.prl : undefined,
      hostName: full ? this.hostName : undefined,
      message: f.message,
    });
    return { kind: 'send', type, message, src: f.src, dst: f.dst, broadcast: f.broadcast };
  }

  // --- giving up ---

  private fail(out: DhcpClientAction[]): void {
    const limit = `${this.acquireTimeoutMs} ms`;
    const who = `client ${formatMac(this.mac)}, limit ${limit}`;
    const error = this.heardFromServer
      ? new FishnetError(
          'DHCP_ERR_NO_LEASE',
          `${who}: ${this.acquireNaks} NAK(s)${this.lastNak ? ` (last: ${this.lastNak})` : ''}, ` +
            `${this.acquireDeclines} address(es) declined as in use, ${this.acquireUnanswered} REQUEST sequence(s) unanswered`,
        )
      : new FishnetError(
          'DHCP_ERR_NO_SERVER',
          `${who}: ${this.acquireDiscovers} DISCOVER(s) sent, not one answered`,
        );
    this.reset('FAILED');
    out.push({ kind: 'failed', error });
  }

  private reset(st: DhcpClientState): void {
    this.st = st;
    this.held = undefined;
    this.pending = undefined;
    this.retransmitAt = Infinity;
    this.initAt = Infinity;
    this.acquireDeadline = Infinity;
  }

  /** Append the timer action that makes the host's timer match this.deadline. */
  private withTimer(out: DhcpClientAction[]): DhcpClientAction[] {
    const d = this.deadline;
    if (d !== this.armed) {
      out.push(d === Infinity ? { kind: 'cancel-timer' } : { kind: 'timer', at: d });
      this.armed = d;
    }
    return out;
  }
}
