// netd's DHCP: the RFC 2131 client of lib/dhcp (pure: messages and time in, actions
// out) wired to netd's link. Its messages go out from port 68 to 67, by broadcast
// until it has an address; replies come to netd's default buffer (no filter claims
// port 68). An offered address is probed with ARP (RFC 5227: sender 0.0.0.0) for a
// second before it is used; a reply means it is taken, and the client declines it.

import { DhcpClient, type DhcpClientAction, type DhcpLease, SeededPrng } from '../../lib/dhcp/index.ts';
import { BROADCAST_MAC, DhcpMessage, type Ipv4Addr, type Mac, udpFrame } from '../../lib/net/index.ts';
import type { FishnetError } from '../../protocols/errors.ts';

const PROBE_MS = 1000;

export interface DhcpOptions {
  /** Give up acquiring a lease after this long (ms). Default 60,000. */
  readonly timeoutMs?: number;
  /** Seed of the client's randomness (xid, back-off jitter): runs are reproducible. */
  readonly seed?: number;
  readonly hostName?: string;
  /** Wait after declining an address found in use (RFC 2131 says at least 10 s; default 10,000 ms). */
  readonly declineWaitMs?: number;
}

export interface DhcpEvents {
  bound(lease: DhcpLease, renewed: boolean): void;
  lost(address: Ipv4Addr, reason: string): void;
  failed(error: FishnetError): void;
}

export class NetdDhcp {
  readonly client: DhcpClient;
  private readonly view = new DhcpMessage();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private probe: { address: Ipv4Addr; timer: ReturnType<typeof setTimeout> } | undefined;
  /** The MAC the last server's replies came from: where unicast renewals go. */
  private serverMac: Mac = BROADCAST_MAC;
  private closed = false;

  constructor(
    private readonly mac: Mac,
    private readonly send: (frame: Uint8Array) => void,
    private readonly arpProbe: (address: Ipv4Addr) => void,
    private readonly events: DhcpEvents,
    opts: DhcpOptions = {},
  ) {
    this.client = new DhcpClient({
      mac,
      random: new SeededPrng(opts.seed ?? mac % 2 ** 31),
      acquireTimeoutMs: opts.timeoutMs ?? 60_000,
      hostName: opts.hostName,
      declineWaitMs: opts.declineWaitMs,
    });
  }

  start(): void {
    this.run(this.client.start(now()));
  }

  /** A UDP payload for port 68. */
  receive(payload: Uint8Array, srcMac: Mac): void {
    if (this.closed || this.view.attach(payload) !== undefined) return;
    this.serverMac = srcMac;
    this.run(this.client.receive(this.view, now()));
  }

  /** An ARP frame from `ip`: if it is the address being probed, it is taken. */
  arpSeen(ip: Ipv4Addr): void {
    if (!this.probe || this.probe.address !== ip) return;
    clearTimeout(this.probe.timer);
    const { address } = this.probe;
    this.probe = undefined;
    this.run(this.client.probeResult(address, true, now()));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.probe) clearTimeout(this.probe.timer);
    this.client.stop();
  }

  private run(actions: DhcpClientAction[]): void {
    for (const a of actions) {
      if (this.closed) return;
      switch (a.kind) {
        case 'send':
          this.send(
            udpFrame({
              dstMac: a.broadcast ? BROADCAST_MAC : this.serverMac,
              srcMac: this.mac,
              src: a.src,
              dst: a.dst,
              srcPort: 68,
              dstPort: 67,
              payload: a.message,
            }),
          );
          break;
        case 'timer':
          clearTimeout(this.timer);
          // A long lease (days) is past what a timer holds: it fires early, and the client re-arms.
          this.timer = setTimeout(
            () => this.run(this.client.timer(now())),
            Math.min(2 ** 31 - 1, Math.max(0, a.at - now())),
          );
          break;
        case 'cancel-timer':
          clearTimeout(this.timer);
          this.timer = undefined;
          break;
        case 'probe': {
          const address = a.address;
          this.arpProbe(address);
          this.probe = {
            address,
            timer: setTimeout(() => {
              this.probe = undefined;
              this.run(this.client.probeResult(address, false, now()));
            }, PROBE_MS),
          };
          break;
        }
        case 'bound':
          this.events.bound(a.lease, a.renewed);
          break;
        case 'lease-lost':
          this.events.lost(a.address, `${a.reason}: ${a.detail}`);
          break;
        case 'failed':
          this.events.failed(a.error);
          break;
      }
    }
  }
}

function now(): number {
  return performance.now();
}
