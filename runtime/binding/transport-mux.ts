// What the stubs generated from .if files stand on: one endpoint of a typed binding.
//
// A typed binding has a MessagePort (always) and, on the shared-memory transport,
// one ring per direction. A message whose arguments are all fixed-size scalars
// travels on the ring; anything else (capabilities, strings, arrays, structs) on
// the port. Messages still arrive in the order they were sent: each ring slot
// carries how many port frames were sent before it, each port frame how many ring
// slots, and the receiver delivers neither ahead of the other.
//
// Sends on the ring are batched: the consumer is woken at most once per batch
// (at the end of the current microtask), and only if it sleeps. A full ring makes
// a one-way send return false (Flounder's TX_BUSY); `writable()` waits for room.
// An rpc call or reply that finds the ring full goes on the port instead.

import type { MessagePort, Transferable } from 'node:worker_threads';
import { RingReader, RingWriter } from '../../lib/shm/ring.ts';
import { Err, type ErrCode, errorName, FishnetError } from '../../protocols/errors.ts';
import { checkTimeout } from '../options.ts';
import type { Binding, Codec, DisconnectReason, PeerInfo } from './binding.ts';
import { closePorts, FIRST_CODEC_OP, transferables } from './binding.ts';

export { type Binding, Err, type ErrCode, FishnetError };

/** A capability as a message argument: shared memory or an endpoint. */
export type Capability = SharedArrayBuffer | MessagePort;

export type Transport = 'port' | 'shm';

/** The two rings of a shared-memory binding, from one side's point of view, and their shape (from the kernel). */
export interface RingPair {
  readonly tx: SharedArrayBuffer;
  readonly rx: SharedArrayBuffer;
  readonly capacity: number;
  readonly slotWords: number;
}

/** A message argument's type, for tools and tests (the generated code does not read it). */
export type TypeInfo =
  | { readonly k: 'int'; readonly bits: 8 | 16 | 32 | 64; readonly signed: boolean }
  | { readonly k: 'enum'; readonly n: number }
  | { readonly k: 'struct'; readonly fields: readonly (readonly [string, TypeInfo])[] }
  | { readonly k: 'array'; readonly of: TypeInfo; readonly n: number }
  | { readonly k: 'dynarray'; readonly of: TypeInfo }
  | { readonly k: 'size' | 'bool' | 'errval' | 'string' | 'cap' | 'iref' };

export interface MessageInfo {
  readonly name: string;
  readonly kind: 'message' | 'rpc';
  readonly direction: 'c2s' | 's2c' | 'both';
  readonly args: readonly { readonly name: string; readonly type: TypeInfo }[];
  readonly outs: readonly { readonly name: string; readonly type: TypeInfo }[];
  readonly ring: boolean;
}

/** What the generator emits for each interface: its identity and how to make each side. */
export interface InterfaceDescriptor<
  C extends TypedEndpoint = TypedEndpoint,
  S extends TypedEndpoint = TypedEndpoint,
> {
  readonly name: string;
  readonly hash: string;
  /** Words per ring slot (0: nothing in this interface can use a ring). */
  readonly slotWords: number;
  readonly messages: readonly MessageInfo[];
  client(binding: Binding, rings?: RingPair): C;
  server(binding: Binding, rings?: RingPair): S;
}

export interface EndpointStats {
  sent: number;
  /** Of those sent, how many went on the ring (the rest on the port). */
  viaRing: number;
  received: number;
  /** Sends refused because the ring was full, or the port's credit spent (the caller got false). */
  busy: number;
  /** Frames dropped: no handler installed for them. */
  unhandled: number;
  /** Frames dropped: malformed (not a frame, wrong code, wrong argument types) from the peer. */
  readonly malformed: number;
  /** The same drops, by reason. */
  readonly malformedBy: Readonly<Record<string, number>>;
  /** rpc calls and replies that went on the port because the ring was full. */
  spilled: number;
  doorbells: number;
}

export interface EndpointOptions {
  /** How many times the receiver looks at an empty ring again (on the next turn of the event loop) before it sleeps. */
  readonly pollBudget?: number;
}

// Measured here (bench/transports.ts): looking again on the next 4 turns before
// sleeping took the shm rpc round trip from 33 µs to 6 µs at p50, with no loss of
// one-way throughput; 32 turns bought nothing more. An idle binding costs 4 turns.
let defaultPollBudget = 4;

/** Set the poll budget of endpoints made from now on (see bench/transports.ts for what it buys). */
export function setDefaultPollBudget(n: number): void {
  defaultPollBudget = n;
}

export abstract class TypedEndpoint implements Codec {
  readonly binding: Binding;
  readonly transport: Transport;
  readonly stats: EndpointStats;
  private rpcTimeout: number | undefined;

  /** @internal the outgoing ring's words, for generated code. */
  protected readonly w: Int32Array;
  protected readonly out: RingWriter | undefined;
  private readonly inRing: RingReader | undefined;
  private portSent = 0;
  private ringSent = 0;
  private portRecv = 0;
  private ringRecv = 0;
  private flushQueued = false;
  private draining = false;
  private sleeping = false;
  private idlePolls = 0;
  private readonly pollBudget: number;
  private ended = false;
  private readonly flushNow = () => this.flush();
  private readonly drainNow = () => this.drain();

  constructor(binding: Binding, rings: RingPair | undefined, slotWords: number, opts: EndpointOptions = {}) {
    this.binding = binding;
    // Malformed frames are counted where they are found, binding or stubs: one count.
    const b = binding.stats;
    this.stats = {
      sent: 0,
      viaRing: 0,
      received: 0,
      busy: 0,
      unhandled: 0,
      get malformed() {
        return b.malformed;
      },
      get malformedBy() {
        return b.malformedBy;
      },
      spilled: 0,
      doorbells: 0,
    };
    this.transport = rings ? 'shm' : 'port';
    this.pollBudget = opts.pollBudget ?? defaultPollBudget;
    if (rings) {
      // The shape comes from the kernel, not from the ring's words (which the peer can write).
      this.out = new RingWriter(rings.tx, slotWords, rings);
      this.inRing = new RingReader(rings.rx, slotWords, rings);
      this.w = this.out.w;
    } else {
      this.w = new Int32Array(0);
    }
    binding.attachCodec(this);
    if (this.inRing) queueMicrotask(this.drainNow);
  }

  get peer(): PeerInfo {
    return this.binding.peer;
  }

  get isOpen(): boolean {
    return this.binding.isOpen;
  }

  /** Every rpc of this endpoint rejects with RT_ERR_TIMEOUT after this many ms (undefined: never). */
  get rpcTimeoutMs(): number | undefined {
    return this.rpcTimeout;
  }

  set rpcTimeoutMs(ms: number | undefined) {
    this.rpcTimeout = checkTimeout(ms, 'rpcTimeoutMs');
  }

  /**
   * Resolves when a one-way send can succeed again: room on the ring (shared-memory
   * transport), credit from the peer (port transport).
   */
  async writable(): Promise<void> {
    this.binding.assertOpen();
    if (this.out) await this.out.writable(() => this.binding.endError());
    await this.binding.writable();
  }

  /** Ring the peer's doorbell now rather than at the end of this microtask. */
  flush(): void {
    this.flushQueued = false;
    if (!this.out) return;
    const before = this.out.doorbells;
    this.out.flush();
    this.stats.doorbells += this.out.doorbells - before;
  }

  close(): void {
    this.binding.close();
  }

  // ---- for generated code: sending ----------------------------------------------------

  /** Word offset of a ring slot to fill, or -1 when full. Ends with commit(). */
  protected reserve(): number {
    if (this.ended) throw this.binding.endError();
    return this.out!.reserve();
  }

  /** Publish the slot just filled: w[at] = code, w[at + 1] = ordering tag. */
  protected commit(at: number, code: number): void {
    this.w[at] = code;
    this.w[at + 1] = this.portSent;
    this.out!.commit();
    this.ringSent = (this.ringSent + 1) | 0;
    this.stats.sent++;
    this.stats.viaRing++;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(this.flushNow);
    }
  }

  protected busy(): false {
    this.stats.busy++;
    return false;
  }

  /**
   * Send a one-way message on the port: [op, ordering tag, code, ...rest]. False,
   * sending nothing, when the peer has not handed back credit (Flounder's TX_BUSY).
   */
  protected sendOneWay(frame: unknown[], transfer?: Transferable[]): boolean {
    this.binding.assertOpen();
    if (!this.binding.hasCredit()) return this.busy();
    this.stamp(frame);
    this.binding.post(frame, transfer);
    return true;
  }

  /**
   * Send an rpc call or reply on the port. It is never dropped: without credit it
   * waits, in order, for the peer to hand some back. A call that cannot be cloned
   * rejects (callId).
   */
  protected sendPort(frame: unknown[], transfer?: Transferable[], callId?: number): void {
    this.binding.assertOpen();
    this.stamp(frame);
    this.binding.postReliable(frame, transfer, (e) => {
      if (callId !== undefined)
        this.binding.pending.reject(callId, FishnetError.wrap(e, 'RT_ERR_BAD_MESSAGE'));
    });
  }

  private stamp(frame: unknown[]): void {
    // The frame's tag counts ring slots sent before it: they must be visible first.
    this.out?.publish();
    frame[0] = FIRST_CODEC_OP;
    frame[1] = this.ringSent;
    this.portSent = (this.portSent + 1) | 0;
    this.stats.sent++;
  }

  /** Start an rpc: a call id and the promise of its reply (rejected after rpcTimeoutMs, if set). */
  protected call<T>(what = 'rpc'): { id: number; promise: Promise<T> } {
    // Fail before opening a call that could not be sent (and would reject unobserved).
    this.binding.assertOpen();
    return this.binding.pending.open<T>(this.rpcTimeout, `${what} to ${this.binding.peer.name}`);
  }

  /** The reply of an rpc came: resolve its promise, or reject it with the registry error. */
  protected settle(id: number, status: number, value: unknown, what: string): void {
    if (status === Err.OK) this.binding.pending.resolve(id, value);
    else this.binding.pending.reject(id, new FishnetError(status, `${what} on ${this.binding.peer.name}`));
  }

  /** Run an rpc handler and turn its outcome into (status, outs). */
  protected async serve(
    handler: ((...a: any[]) => unknown) | undefined,
    args: unknown[],
    what: string,
  ): Promise<{ status: ErrCode; outs: any }> {
    if (!handler) {
      this.stats.unhandled++;
      return { status: Err.RT_ERR_NO_HANDLER, outs: undefined };
    }
    try {
      return { status: Err.OK, outs: (await handler(...args)) ?? {} };
    } catch (e) {
      const fe = FishnetError.wrap(e);
      if (fe.is('RT_ERR_HANDLER_FAILED')) {
        // A bug in the server, not a refusal: say so where the server's author will see it.
        console.error(`[fishnet] ${what}: the handler threw`, e);
      }
      return { status: fe.code, outs: undefined };
    }
  }

  /** A frame or slot from the peer did not fit: count it by reason, close any port it carried. */
  protected malformed(what: string, frame?: unknown): void {
    this.binding.countMalformed(what);
    if (frame !== undefined) closePorts(frame);
  }

  protected unhandled(frame?: unknown): void {
    this.stats.unhandled++;
    if (frame !== undefined) closePorts(frame);
  }

  // ---- for generated code: receiving --------------------------------------------------

  protected abstract dispatchPort(frame: unknown[]): void;
  protected abstract dispatchRing(w: Int32Array, at: number): void;

  /** @internal Codec: a frame from the port. */
  receive(frame: unknown[]): void {
    // Every port frame carries its ordering tag, rings or not: one without is not a frame.
    const tag = frame[1];
    if (typeof tag !== 'number' || (tag | 0) !== tag) {
      this.malformed('port frame without ordering tag', frame);
      return;
    }
    if (this.inRing) {
      // Deliver the ring slots sent before this frame first.
      let available = this.inRing.available();
      if (available < 0 || available > this.inRing.capacity) {
        this.corrupted();
        return;
      }
      while (((tag - this.ringRecv) | 0) > 0 && available-- > 0) this.deliverSlot(this.inRing.front());
      this.inRing.release();
    }
    this.portRecv = (this.portRecv + 1) | 0;
    this.stats.received++;
    try {
      this.dispatchPort(frame);
    } catch (e) {
      this.binding.handlerFailed(`port frame ${String(frame[2])}`, e);
    }
    // Ring slots that waited for this frame can go now.
    if (this.inRing && this.inRing.available() > 0 && !this.draining) queueMicrotask(this.drainNow);
  }

  /** @internal Codec: this side is about to say goodbye: let everything sent be seen. */
  flushBeforeClose(): void {
    this.flush();
  }

  /** @internal Codec: the peer said goodbye; what it sent on the ring before that is still delivered. */
  drainBeforeEnd(): void {
    const r = this.inRing;
    if (!r || this.ended) return;
    let n = r.available();
    if (n < 0 || n > r.capacity) return;
    while (n-- > 0) this.deliverSlot(r.front());
    r.release();
  }

  /** @internal Codec: the binding ended. */
  disconnected(_reason: DisconnectReason): void {
    this.ended = true;
    this.out?.close();
    this.inRing?.close();
  }

  /** The peer broke the ring (more published than it holds, or closed it): its memory cannot be trusted. End the binding. */
  private corrupted(why = 'ring indices corrupted'): void {
    this.malformed(why);
    this.ended = true;
    queueMicrotask(() => this.binding.close());
  }

  private deliverSlot(at: number): void {
    const r = this.inRing!;
    const w = r.w;
    r.advance();
    this.ringRecv = (this.ringRecv + 1) | 0;
    this.stats.received++;
    try {
      this.dispatchRing(w, at);
    } catch (e) {
      this.binding.handlerFailed(`ring slot ${String(w[at])}`, e);
    }
  }

  private drain(): void {
    const r = this.inRing;
    if (!r || this.draining || this.sleeping) return;
    this.draining = true;
    let n = 0;
    // Set when the next slot was sent after a port frame that has not arrived yet:
    // receive() resumes the drain when it does.
    let waitingForPort = false;
    let backlogged = false;
    try {
      // Read the producer's index once per batch, not once per slot.
      let available = 0;
      while (!this.ended) {
        if (this.binding.backlogged) {
          // Our replies to this peer wait for its credit: take no more from it until they go.
          backlogged = true;
          break;
        }
        if (available === 0) {
          available = r.available();
          if (available === 0) break;
          if (available < 0 || available > r.capacity) {
            this.corrupted();
            break;
          }
        }
        const at = r.front();
        if (((r.w[at + 1]! - this.portRecv) | 0) > 0) {
          waitingForPort = true;
          break;
        }
        available--;
        this.deliverSlot(at);
        if ((++n & 255) === 0) r.release();
      }
    } finally {
      r.release();
      this.draining = false;
    }
    if (this.ended || waitingForPort) return;
    if (backlogged) {
      this.binding.whenUnblocked(this.drainNow);
      return;
    }
    if (r.closed) {
      // Only this side closes its rings when the binding ends; a peer that set the word
      // would have this reader look for ever.
      this.corrupted('ring closed by the peer');
      return;
    }
    if (n > 0) this.idlePolls = 0;
    if (this.idlePolls < this.pollBudget) {
      this.idlePolls++;
      setImmediate(this.drainNow);
      return;
    }
    this.idlePolls = 0;
    // sleep() looks once more after announcing itself: data published since the loop
    // above (release() may have just woken the producer) is seen there, not lost.
    const slept = r.sleep();
    if (slept === false) {
      queueMicrotask(this.drainNow);
      return;
    }
    this.sleeping = true;
    slept.then(() => {
      this.sleeping = false;
      this.drain();
    });
  }
}

export function isCapability(v: unknown): v is Capability {
  return (
    v instanceof SharedArrayBuffer ||
    (typeof v === 'object' && v !== null && v.constructor?.name === 'MessagePort' && 'postMessage' in v)
  );
}

/** The MessagePorts among capability arguments: they move with the message. */
export function transferOf(...caps: unknown[]): Transferable[] | undefined {
  return transferables(caps);
}

/** An argument or out-value that does not fit its declared type. */
export function badArgument(what: string, value: unknown, type: string): never {
  const shown =
    typeof value === 'bigint'
      ? `${value}n`
      : typeof value === 'string'
        ? JSON.stringify(value)
        : String(value);
  throw new FishnetError('FLOUNDER_ERR_BAD_ARGUMENT', `${what} = ${shown} does not fit ${type}`);
}

/** The status of a failed rpc as its registry name (for messages). */
export function statusName(code: number): string {
  return errorName(code);
}
