// In-process pieces for the stack's unit tests: a link that records what the stack
// sends and lets the test complete (or fail) each frame, a port service that hands
// out ports as netd would, a clock the test moves, and a stack wired to them.
import { type DgramHost, Socket } from '../../lib/lwip/dgram.ts';
import type { Link, LinkHandlers } from '../../lib/lwip/link.ts';
import { Stack, type StackConfig } from '../../lib/lwip/stack.ts';
import { type PortService, Udp } from '../../lib/lwip/udp.ts';
import { type Ipv4Addr, ipv4, type Mac, mac } from '../../lib/net/index.ts';
import { Err, type ErrCode, FishnetError } from '../../protocols/errors.ts';

export const US_MAC = mac('02:00:00:00:00:01');
export const US = ipv4('10.0.0.2');
export const GW = ipv4('10.0.0.1');
export const GW_MAC = mac('02:00:00:00:00:fe');
export const MASK = ipv4('255.255.255.0');
export const PEER = ipv4('10.0.0.9');
export const PEER_MAC = mac('02:00:00:00:00:09');

export class FakeLink implements Link {
  readonly slotBytes = 2048;
  readonly txBytes: Uint8Array;
  /** Frames sent and not yet completed, by slot. */
  readonly inFlight = new Map<number, Uint8Array>();
  /** Every frame sent, in order (copies). */
  readonly sent: Uint8Array[] = [];
  /** Complete each frame at once with this code (undefined: the test calls complete()). */
  autoComplete: ErrCode | undefined = Err.OK;
  /** transmit() says the ring is full. */
  ringFull = false;
  private free: number[];
  private readonly state: Uint8Array;
  private h: LinkHandlers | undefined;
  private waiters: (() => void)[] = [];
  isUp = true;

  constructor(
    readonly mac: Mac = US_MAC,
    readonly txSlots = 64,
  ) {
    this.txBytes = new Uint8Array(txSlots * this.slotBytes);
    this.free = Array.from({ length: txSlots }, (_, i) => txSlots - 1 - i);
    this.state = new Uint8Array(txSlots);
  }

  setHandlers(h: LinkHandlers): void {
    this.h = h;
  }
  txAlloc(): number {
    const s = this.free.pop();
    if (s === undefined) return -1;
    this.state[s] = 1;
    return s;
  }
  txRelease(slot: number): void {
    if (this.state[slot] !== 1) throw new RangeError(`slot ${slot} is not allocated`);
    this.release(slot);
  }
  txAvailable(): number {
    return this.free.length;
  }
  transmit(slot: number, len: number): boolean {
    if (this.state[slot] !== 1) throw new RangeError(`slot ${slot} is not allocated`);
    if (this.ringFull || !this.isUp) return false;
    const f = this.txBytes.slice(slot * this.slotBytes, slot * this.slotBytes + len);
    this.sent.push(f);
    this.state[slot] = 2;
    this.inFlight.set(slot, f);
    if (this.autoComplete !== undefined) {
      const code = this.autoComplete;
      queueMicrotask(() => this.complete(slot, code));
    }
    return true;
  }
  /** The driver's tx_done for a slot. */
  complete(slot: number, err: ErrCode = Err.OK): void {
    if (!this.inFlight.delete(slot)) return;
    this.release(slot);
    this.h?.txDone(slot, err);
  }
  txReady(): Promise<void> {
    if (this.free.length > 0) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }
  /** A frame from the wire. */
  deliver(frame: Uint8Array): void {
    const copy = new Uint8Array(2048);
    copy.set(frame.subarray(0, 2048));
    this.h!.frame(copy, Math.min(frame.length, 2048));
  }
  /** A frame from the wire, in memory the test owns (as the netif hands its private copy). */
  deliverView(frame: Uint8Array, len: number): void {
    this.h!.frame(frame, len);
  }
  down(): void {
    this.isUp = false;
    for (const slot of [...this.inFlight.keys()]) this.complete(slot, Err.RT_ERR_PEER_DIED);
    this.h?.down('test');
  }
  async close(): Promise<void> {}
  private release(slot: number): void {
    this.state[slot] = 0;
    this.free.push(slot);
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }
}

/** Ports as a naive netd hands them out; records every call. */
export class FakePorts implements PortService {
  readonly open = new Set<number>();
  readonly calls: string[] = [];
  next = 49152;
  /** Ports another client holds: bind_port says PORT_ERR_IN_USE. */
  readonly taken = new Set<number>();
  /** Delay answers by this many ms (0: next tick). */
  delayMs = 0;
  privileged = false;

  private wait(): Promise<void> {
    return new Promise((r) => setTimeout(r, this.delayMs));
  }
  async getPort(type: 'udp' | 'tcp'): Promise<number> {
    await this.wait();
    while (this.open.has(this.next) || this.taken.has(this.next)) this.next++;
    const p = this.next++;
    this.open.add(p);
    this.calls.push(`get_port ${type} -> ${p}`);
    return p;
  }
  async bindPort(type: 'udp' | 'tcp', port: number): Promise<void> {
    await this.wait();
    this.calls.push(`bind_port ${type} ${port}`);
    if (port < 1024 && !this.privileged) throw new FishnetError('RT_ERR_NOT_PRIVILEGED', `port ${port}`);
    if (this.open.has(port) || this.taken.has(port))
      throw new FishnetError('PORT_ERR_IN_USE', `port ${port}`);
    this.open.add(port);
  }
  async closePort(type: 'udp' | 'tcp', port: number): Promise<void> {
    await this.wait();
    this.calls.push(`close_port ${type} ${port}`);
    if (!this.open.delete(port)) throw new FishnetError('PORT_ERR_NOT_FOUND', `port ${port}`);
  }
}

/** A clock the test moves. */
export class Clock {
  t = 1000;
  readonly now = () => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface Rig extends DgramHost {
  readonly link: FakeLink;
  readonly ports: FakePorts;
  readonly clock: Clock;
  readonly sockets: Set<Socket>;
  socket(opts?: { zeroCopy?: boolean }): Socket;
  close(): Promise<void>;
}

/** A stack on a fake link, with UDP and a socket factory. */
export function rig(
  cfg: Partial<Omit<StackConfig, 'link'>> & { mac?: Mac; ip?: Ipv4Addr; txSlots?: number } = {},
): Rig {
  const link = new FakeLink(cfg.mac ?? US_MAC, cfg.txSlots ?? 64);
  const clock = new Clock();
  const stack = new Stack({ ip: US, gw: GW, mask: MASK, now: clock.now, ipIdSeed: 0x100, ...cfg, link });
  const ports = new FakePorts();
  const udp = new Udp(stack, ports);
  const sockets = new Set<Socket>();
  const r: Rig = {
    link,
    ports,
    clock,
    stack,
    udp,
    sockets,
    adopt: (s) => sockets.add(s),
    disown: (s) => sockets.delete(s),
    socket: (o = {}) => new Socket({ type: 'udp4', ...o }, undefined, r),
    close: async () => {
      for (const s of [...sockets]) if (!s.isClosed) s.close();
      await udp.close();
      stack.close();
    },
  };
  return r;
}

/** Wait for an event, or fail after ms. */
export function once<T = unknown[]>(e: NodeJS.EventEmitter, name: string, ms = 2000): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no '${name}' within ${ms} ms`)), ms);
    e.once(name, (...args: unknown[]) => {
      clearTimeout(t);
      resolve(args as T);
    });
  });
}

export const tick = () => new Promise((r) => setImmediate(r));
