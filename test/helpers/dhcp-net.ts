// A simulated Ethernet segment for the DHCP tests: clients and servers exchange real
// frames (Ethernet, IPv4, UDP built and parsed with lib/net) in virtual time, with
// seeded loss, a server that can be taken down and brought back, and ARP probes that
// find the addresses the test says are taken.
import type { DhcpClient, DhcpClientAction, DhcpLease } from '../../lib/dhcp/client.ts';
import { SeededPrng } from '../../lib/dhcp/prng.ts';
import type { DhcpServer } from '../../lib/dhcp/server.ts';
import {
  BROADCAST_MAC,
  DHCP_CLIENT_PORT,
  DHCP_SERVER_PORT,
  DhcpMessage,
  dhcpTypeName,
  EthernetFrame,
  formatIpv4,
  type Ipv4Addr,
  Ipv4Packet,
  type Mac,
  mac,
  UdpDatagram,
  udpFrame,
} from '../../lib/net/index.ts';

export interface SimEvent {
  readonly at: number;
  readonly who: string;
  readonly what: string;
}

interface Host {
  readonly name: string;
  readonly mac: Mac;
}

export interface SimClient extends Host {
  readonly client: DhcpClient;
  timerAt: number;
  lease: DhcpLease | undefined;
  /** Every action's kind with its time, and every message sent. */
  readonly sent: { at: number; type: string; src: Ipv4Addr; dst: Ipv4Addr; broadcast: boolean }[];
  readonly bound: { at: number; lease: DhcpLease; renewed: boolean }[];
  readonly lost: { at: number; reason: string; detail: string }[];
  readonly failed: { at: number; name: string; message: string }[];
  readonly probes: { at: number; address: Ipv4Addr }[];
}

export interface SimServer extends Host {
  readonly server: DhcpServer;
  up: boolean;
}

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
}

export class DhcpNet {
  now = 0;
  readonly log: SimEvent[] = [];
  readonly clients: SimClient[] = [];
  readonly servers: SimServer[] = [];
  /** Addresses an ARP probe finds in use. */
  readonly taken = new Set<Ipv4Addr>();
  framesSent = 0;
  framesLost = 0;
  private readonly queue: Pending[] = [];
  private seq = 0;
  private readonly rng: SeededPrng;
  private readonly eth = new EthernetFrame();
  private readonly ip = new Ipv4Packet();
  private readonly udp = new UdpDatagram();
  private readonly dhcp = new DhcpMessage();

  constructor(
    seed: number,
    /** Chance that a frame is lost on the wire. */
    readonly loss = 0,
    /** How long an ARP probe takes (RFC 5227's probe sequence is a few seconds). */
    readonly probeMs = 2000,
  ) {
    this.rng = new SeededPrng(seed);
  }

  addServer(name: string, macText: string, server: DhcpServer): SimServer {
    const s: SimServer = { name, mac: mac(macText), server, up: true };
    this.servers.push(s);
    return s;
  }

  addClient(name: string, client: DhcpClient, m: Mac): SimClient {
    const c: SimClient = {
      name,
      mac: m,
      client,
      timerAt: Infinity,
      lease: undefined,
      sent: [],
      bound: [],
      lost: [],
      failed: [],
      probes: [],
    };
    this.clients.push(c);
    return c;
  }

  start(c: SimClient, opts?: { previous?: Ipv4Addr }): void {
    this.act(c, c.client.start(this.now, opts));
  }

  /** Run events and timers until `until` (virtual ms). */
  runUntil(until: number): void {
    for (;;) {
      const next = this.nextAt();
      if (next > until) break;
      this.now = next;
      this.step();
    }
    this.now = until;
  }

  /** Run until `done()` holds, or fail the test's expectations by returning false at `limit`. */
  runUntilTrue(done: () => boolean, limit: number): boolean {
    while (!done()) {
      const next = this.nextAt();
      if (next > limit) {
        this.now = limit;
        return false;
      }
      this.now = next;
      this.step();
    }
    return true;
  }

  private nextAt(): number {
    let t = Infinity;
    for (const p of this.queue) t = Math.min(t, p.at);
    for (const c of this.clients) t = Math.min(t, c.timerAt);
    return t;
  }

  private step(): void {
    // Deliveries before timers at the same instant, in the order they were queued.
    let best = -1;
    for (const [i, p] of this.queue.entries()) {
      if (p.at > this.now) continue;
      if (best < 0 || p.seq < this.queue[best]!.seq) best = i;
    }
    if (best >= 0) {
      const [p] = this.queue.splice(best, 1);
      p!.run();
      return;
    }
    for (const c of this.clients) {
      if (c.timerAt <= this.now) {
        c.timerAt = Infinity;
        this.act(c, c.client.timer(this.now));
        return;
      }
    }
  }

  private later(delay: number, run: () => void): void {
    this.queue.push({ at: this.now + delay, seq: this.seq++, run });
  }

  private note(who: string, what: string): void {
    this.log.push({ at: this.now, who, what });
  }

  act(c: SimClient, actions: DhcpClientAction[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case 'send': {
          c.sent.push({
            at: this.now,
            type: dhcpTypeName(a.type),
            src: a.src,
            dst: a.dst,
            broadcast: a.broadcast,
          });
          this.note(c.name, `sends ${dhcpTypeName(a.type)} to ${formatIpv4(a.dst)}`);
          // A unicast to the server: the test network resolves the server's MAC as ARP would.
          const dstMac = a.broadcast
            ? BROADCAST_MAC
            : (this.servers.find((s) => s.server.serverId === a.dst)?.mac ?? BROADCAST_MAC);
          this.wire(
            udpFrame({
              dstMac,
              srcMac: c.mac,
              src: a.src,
              dst: a.dst,
              srcPort: DHCP_CLIENT_PORT,
              dstPort: DHCP_SERVER_PORT,
              payload: a.message,
            }),
          );
          break;
        }
        case 'timer':
          c.timerAt = a.at;
          break;
        case 'cancel-timer':
          c.timerAt = Infinity;
          break;
        case 'probe': {
          c.probes.push({ at: this.now, address: a.address });
          const taken = this.taken.has(a.address);
          this.later(this.probeMs, () => this.act(c, c.client.probeResult(a.address, taken, this.now)));
          break;
        }
        case 'bound':
          c.lease = a.lease;
          c.bound.push({ at: this.now, lease: a.lease, renewed: a.renewed });
          this.note(c.name, `${a.renewed ? 'renewed' : 'bound'} ${formatIpv4(a.lease.address)}`);
          break;
        case 'lease-lost':
          c.lease = undefined;
          c.lost.push({ at: this.now, reason: a.reason, detail: a.detail });
          this.note(c.name, `lost ${formatIpv4(a.address)}: ${a.reason}`);
          break;
        case 'failed':
          c.failed.push({ at: this.now, name: a.error.errName, message: a.error.message });
          this.note(c.name, `failed: ${a.error.message}`);
          break;
      }
    }
  }

  /** Put a frame on the segment: every host sees it after 1 ms, unless the wire loses it. */
  private wire(frame: Uint8Array): void {
    this.framesSent++;
    if (this.loss > 0 && this.rng.next() < this.loss) {
      this.framesLost++;
      return;
    }
    this.later(1, () => this.deliver(frame));
  }

  private deliver(frame: Uint8Array): void {
    const { eth, ip, udp, dhcp } = this;
    if (eth.attach(frame) !== undefined) throw new Error('simulated wire: bad Ethernet frame');
    if (ip.attach(frame, eth.payloadOffset) !== undefined || !ip.checksumValid())
      throw new Error('simulated wire: bad IPv4 header');
    if (udp.attach(frame, ip.payloadOffset, ip.payloadOffset + ip.payloadLength) !== undefined)
      throw new Error('simulated wire: bad UDP datagram');
    if (!udp.checksumValid(ip.src, ip.dst)) throw new Error('simulated wire: bad UDP checksum');
    const why = dhcp.attach(frame, udp.payloadOffset, udp.payloadOffset + udp.payloadLength);
    if (why !== undefined) throw new Error(`simulated wire: DHCP message refused: ${why}`);
    const to = (h: Host) => eth.dst === BROADCAST_MAC || eth.dst === h.mac;
    if (udp.dstPort === DHCP_SERVER_PORT) {
      for (const s of this.servers) {
        if (!s.up || !to(s)) continue;
        const r = s.server.receive(dhcp, this.now);
        if (!r) continue;
        this.note(s.name, `sends ${dhcpTypeName(r.type)} to ${formatIpv4(r.dst)}`);
        this.wire(
          udpFrame({
            dstMac: r.dstMac ?? BROADCAST_MAC,
            srcMac: s.mac,
            src: s.server.serverId,
            dst: r.dst,
            srcPort: DHCP_SERVER_PORT,
            dstPort: r.dstPort,
            payload: r.message,
          }),
        );
      }
    } else if (udp.dstPort === DHCP_CLIENT_PORT) {
      for (const c of this.clients) if (to(c)) this.act(c, c.client.receive(dhcp, this.now));
    }
  }
}
