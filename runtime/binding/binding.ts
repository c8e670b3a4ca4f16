// A binding: the channel between two actors that the runtime set up after a lookup.
//
// Each side learns the peer's identity from the runtime when the binding is made,
// never from message contents, so a server can trust `binding.peer`. When the peer
// dies the runtime says so (with the DOWN reason); when it closes the binding it
// says goodbye in-band. Either way every pending request rejects with a typed error
// and onDisconnect handlers run exactly once.
//
// Messages on the port are arrays whose first element is an opcode. Opcodes below
// FIRST_CODEC_OP belong to the dynamic request/notify API here; the rest belong to
// whatever codec is attached (the typed stubs generated from .if files).

import { type MessagePort, receiveMessageOnPort, type Transferable } from 'node:worker_threads';
import { FishnetError } from '../../protocols/errors.ts';
import { checkFunction, checkOptions, checkTimeout } from '../options.ts';
import { PendingCalls } from '../pending.ts';
import type { ActorId, ExitReason } from '../reasons.ts';

export type BindingId = number;

export interface PeerInfo {
  readonly id: ActorId;
  readonly name: string;
}

export type DisconnectReason =
  | { readonly kind: 'closed'; readonly by: 'self' | 'peer' }
  | { readonly kind: 'peer-died'; readonly reason: ExitReason };

const OP_NOTIFY = 0;
const OP_REQUEST = 1;
const OP_REPLY = 2;
const OP_FAIL = 3;
const OP_BYE = 4;
const OP_CREDIT = 5;
const OP_CREDIT_SEEN = 6;
export const FIRST_CODEC_OP = 8;

/**
 * The credit window of the port transport: frames one side may post that the other
 * has not yet consumed. A receiver hands credit back every quarter window
 * ([CREDIT, frames consumed]); the sender echoes each grant at once
 * ([CREDIT_SEEN, n]), so the receiver knows exactly what the sender had seen when
 * it sent each later frame (the port keeps order). A sender that keeps within its
 * credit never waits on a receiver that keeps up; a peer that posts past it is
 * hostile: its extra frames are dropped and counted, and past a whole window more
 * the binding is ended.
 */
export const CREDIT_WINDOW = 1024;
const CREDIT_EVERY = CREDIT_WINDOW / 4;

/** What a typed codec (generated stubs) plugs into a binding. */
export interface Codec {
  receive(frame: unknown[]): void;
  /** Before this side closes: publish anything batched. */
  flushBeforeClose?(): void;
  /** The peer closed: deliver what it sent before its goodbye. */
  drainBeforeEnd?(): void;
  /** Called once, when the binding ends, after pending requests were rejected. */
  disconnected(reason: DisconnectReason): void;
}

export interface BindingInit {
  readonly id: BindingId;
  readonly service: string;
  readonly role: 'client' | 'server';
  readonly peer: PeerInfo;
  readonly port: MessagePort;
  /** Tell the runtime that this side is done with the binding. */
  readonly release: (id: BindingId) => void;
}

export interface BindingStats {
  sent: number;
  received: number;
  /** Frames dropped: nothing handles them. */
  unhandled: number;
  /** Frames dropped: not well-formed (the peer is not trusted). */
  malformed: number;
  /** The same drops by reason (a short fixed text per kind of fault). */
  readonly malformedBy: Record<string, number>;
  /** Frames held back because the peer had not yet handed back credit. */
  queued: number;
  /** Notification handlers that threw (reported, not rethrown: a peer's arguments must not end us). */
  handlerErrors: number;
}

type Handler = (...args: any[]) => unknown;

interface Outgoing {
  readonly frame: unknown[];
  readonly transfer: Transferable[] | undefined;
  readonly failed: (e: unknown) => void;
}

export class Binding {
  readonly id: BindingId;
  readonly service: string;
  readonly role: 'client' | 'server';
  readonly peer: PeerInfo;
  /** Resolves once, when the binding ends. */
  readonly closed: Promise<DisconnectReason>;
  readonly stats: BindingStats = {
    sent: 0,
    received: 0,
    unhandled: 0,
    malformed: 0,
    malformedBy: {},
    queued: 0,
    handlerErrors: 0,
  };

  /** @internal the transport; typed codecs send on it through post(). */
  readonly port: MessagePort;
  /** @internal outstanding requests, shared with typed rpc stubs. */
  readonly pending = new PendingCalls();

  private readonly handlers = new Map<string, Handler>();
  private readonly disconnectHandlers = new Set<(r: DisconnectReason) => void>();
  private codec: Codec | undefined;
  private ended: DisconnectReason | undefined;
  private settle!: (r: DisconnectReason) => void;
  private readonly release: (id: BindingId) => void;

  // Credit, as a sender: frames posted, and how many the peer may have unconsumed.
  private posted = 0;
  private limit = CREDIT_WINDOW;
  /** Frames that must not be dropped (requests, replies) waiting for credit, in order. */
  private readonly outbox: Outgoing[] = [];
  private readonly creditWaiters: (() => void)[] = [];
  private readonly unblocked: (() => void)[] = [];
  // Credit, as a receiver: frames consumed, the count last handed back, and the
  // last grant the peer has said it saw (it may send W frames past that).
  private consumed = 0;
  private acked = 0;
  private peerSeen = 0;

  constructor(init: BindingInit) {
    this.id = init.id;
    this.service = init.service;
    this.role = init.role;
    this.peer = Object.freeze({ ...init.peer });
    this.port = init.port;
    this.release = init.release;
    this.closed = new Promise((r) => {
      this.settle = r;
    });
    // A MessageEvent lists every port moved with a frame, wherever the frame hides it:
    // what is dropped, or not handed to a handler, is closed.
    this.port.addEventListener('message', (ev) => {
      const m = ev as unknown as { data: unknown; ports: readonly MessagePort[] };
      this.receive(m.data, m.ports);
    });
    // A frame that could not even be deserialized (the peer's doing) is a drop like any other.
    this.port.on('messageerror', () => this.countMalformed('undeserializable'));
  }

  get isOpen(): boolean {
    return this.ended === undefined;
  }

  /** Call `method` on the peer and wait for its answer. Ports among the arguments are transferred. */
  request<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    return this.call<T>(method, args);
  }

  /** request() with options: a timeout, and extra objects to transfer. */
  call<T = unknown>(method: string, args: unknown[], opts: { timeoutMs?: number } = {}): Promise<T> {
    if (typeof method !== 'string')
      throw new TypeError(`call: method must be a string, not ${typeof method}`);
    if (!Array.isArray(args)) throw new TypeError('call: args must be an array');
    const o = checkOptions<{ timeoutMs: number }>(opts, 'call options', ['timeoutMs']);
    const timeoutMs = checkTimeout(o.timeoutMs, 'call: timeoutMs');
    const { id, promise } = this.pending.open<T>(timeoutMs, `request '${method}' to ${this.peer.name}`);
    if (this.ended === undefined) {
      this.postReliable([OP_REQUEST, id, method, args], transferables(args), (e) =>
        this.pending.reject(id, FishnetError.wrap(e, 'RT_ERR_BAD_MESSAGE')),
      );
    }
    return promise;
  }

  /**
   * One-way message. Returns false, sending nothing, when the peer has not consumed
   * a whole window of earlier frames (wait with writable()). Throws
   * RT_ERR_BINDING_CLOSED / RT_ERR_PEER_DIED when the binding has ended.
   */
  notify(method: string, ...args: unknown[]): boolean {
    this.assertOpen();
    if (typeof method !== 'string')
      throw new TypeError(`notify: method must be a string, not ${typeof method}`);
    if (!this.hasCredit()) return false;
    this.post([OP_NOTIFY, method, args], transferables(args));
    return true;
  }

  /** Resolves when a one-way send can succeed again; rejects when the binding ends. */
  writable(): Promise<void> {
    this.assertOpen();
    if (this.hasCredit()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.creditWaiters.push(() => (this.ended ? reject(this.endError()) : resolve()));
    });
  }

  /** Answer requests and notifications named `method`. A handler may return a promise. */
  handle(method: string, fn: Handler): this {
    if (typeof method !== 'string') throw new TypeError('handle: method must be a string');
    checkFunction(fn, `handle('${method}'): the handler`);
    this.handlers.set(method, fn);
    return this;
  }

  onDisconnect(fn: (r: DisconnectReason) => void): () => void {
    checkFunction(fn, 'onDisconnect: the handler');
    if (this.ended) {
      queueMicrotask(() => fn(this.ended!));
      return () => {};
    }
    this.disconnectHandlers.add(fn);
    return () => this.disconnectHandlers.delete(fn);
  }

  /** End the binding from this side. The peer sees { kind: 'closed', by: 'peer' }. */
  close(): void {
    if (this.ended) return;
    this.codec?.flushBeforeClose?.();
    this.port.postMessage([OP_BYE]);
    this.end({ kind: 'closed', by: 'self' });
  }

  /** @internal end this side without a goodbye (a connection that was refused before it began). */
  discard(): void {
    this.end({ kind: 'closed', by: 'self' });
  }

  /** @internal publish what the typed stubs have batched (the thread is about to exit). */
  flushCodec(): void {
    if (!this.ended) this.codec?.flushBeforeClose?.();
  }

  /** @internal the runtime reports the peer's death. */
  peerDied(reason: ExitReason): void {
    if (this.ended) return;
    // The news of the death can overtake the peer's last frames (they travel on
    // different channels): deliver what it sent before it died, then end.
    this.drainPort();
    this.end({ kind: 'peer-died', reason });
  }

  /**
   * @internal the kernel says the peer is done with this binding (it released it, or
   * the connect was abandoned): what it sent before is delivered, then the binding ends.
   */
  peerClosed(): void {
    if (this.ended) return;
    this.drainPort();
    this.end({ kind: 'closed', by: 'peer' });
  }

  /** Deliver every frame (and ring slot) the peer sent that is still queued. */
  private drainPort(): void {
    for (
      let m = receiveMessageOnPort(this.port);
      m !== undefined && !this.ended;
      m = receiveMessageOnPort(this.port)
    ) {
      this.receive(m.message, undefined);
    }
    this.codec?.drainBeforeEnd?.();
  }

  /** @internal attach the typed stubs. A binding carries one codec. */
  attachCodec(codec: Codec): void {
    if (this.codec) throw new FishnetError('RT_ERR_BAD_SPEC', `binding ${this.id} already has typed stubs`);
    this.codec = codec;
    if (this.ended) codec.disconnected(this.ended);
  }

  /** @internal the error that sends fail with once the binding has ended. */
  endError(): FishnetError {
    const r = this.ended;
    if (r?.kind === 'peer-died') {
      return new FishnetError(
        'RT_ERR_PEER_DIED',
        `${this.peer.name} (actor ${this.peer.id}) on '${this.service}'`,
        {
          data: r.reason,
        },
      );
    }
    return new FishnetError('RT_ERR_BINDING_CLOSED', `'${this.service}' with ${this.peer.name}`);
  }

  assertOpen(): void {
    if (this.ended) throw this.endError();
  }

  /** @internal true when a frame may be posted now without exceeding the peer's credit. */
  hasCredit(): boolean {
    return this.posted < this.limit;
  }

  /** @internal post a frame now (the caller checked hasCredit(), or it is a one-way send that may not wait). */
  post(frame: unknown[], transfer: Transferable[] | undefined): void {
    this.stats.sent++;
    this.posted++;
    this.port.postMessage(frame, transfer);
  }

  /**
   * @internal post a frame that must not be dropped (a request, a reply): at once if
   * there is credit, else in order when credit comes. `failed` hears of a frame that
   * could not be cloned.
   */
  postReliable(frame: unknown[], transfer: Transferable[] | undefined, failed: (e: unknown) => void): void {
    const out: Outgoing = { frame, transfer, failed };
    if (this.outbox.length === 0 && this.hasCredit()) {
      this.postOut(out);
      return;
    }
    this.stats.queued++;
    this.outbox.push(out);
  }

  private postOut(out: Outgoing): void {
    try {
      this.post(out.frame, out.transfer);
    } catch (e) {
      this.posted--;
      this.stats.sent--;
      out.failed(e);
    }
  }

  /** @internal count a frame dropped as malformed, by reason. */
  countMalformed(reason: string): void {
    this.stats.malformed++;
    this.stats.malformedBy[reason] = (this.stats.malformedBy[reason] ?? 0) + 1;
  }

  private receive(frame: unknown, ports: readonly MessagePort[] | undefined): undefined {
    if (this.ended) return closeAll(frame, ports);
    const array = Array.isArray(frame) && frame.length > 0;
    const op = array ? (frame as unknown[])[0] : undefined;
    if (op === OP_CREDIT && this.credit(frame as unknown[])) return closeAll(frame, ports);
    if (op === OP_CREDIT_SEEN && this.creditSeen(frame as unknown[])) return closeAll(frame, ports);
    // Every other frame costs credit, well-formed or not: a peer that floods garbage is
    // cut off like one that floods frames.
    if (op !== OP_BYE && !this.consume()) return this.drop(frame, 'over credit', ports);
    if (!array) return this.drop(frame, 'not a frame', ports);
    const f = frame as unknown[];
    this.stats.received++;
    if (typeof op !== 'number') return this.drop(f, 'bad opcode', ports);
    if (op >= FIRST_CODEC_OP) {
      if (this.codec) {
        this.codec.receive(f);
        if (ports && ports.length > 0) closeUnreferenced(f, ports);
      } else {
        this.stats.unhandled++;
        closeAll(f, ports);
      }
      return;
    }
    switch (op) {
      case OP_NOTIFY: {
        const [, method, args] = f;
        if (f.length !== 3 || typeof method !== 'string' || !Array.isArray(args) || args.length > MAX_ARGS)
          return this.drop(f, 'bad notify', ports);
        const fn = this.handlers.get(method);
        if (!fn) {
          this.stats.unhandled++;
          return closeAll(f, ports);
        }
        if (ports && ports.length > 0) closeUnreferenced(args, ports);
        try {
          const r = fn(...args);
          if (r instanceof Promise) r.catch((e) => this.handlerFailed(method, e));
        } catch (e) {
          this.handlerFailed(method, e);
        }
        return;
      }
      case OP_REQUEST: {
        const [, id, method, args] = f;
        if (
          f.length !== 4 ||
          !isCallId(id) ||
          typeof method !== 'string' ||
          !Array.isArray(args) ||
          args.length > MAX_ARGS
        )
          return this.drop(f, 'bad request', ports);
        if (ports && ports.length > 0) closeUnreferenced(args, ports);
        this.answer(id, method, args);
        return;
      }
      case OP_REPLY: {
        const [, id, value] = f;
        if (f.length !== 3 || !isCallId(id)) return this.drop(f, 'bad reply', ports);
        if (ports && ports.length > 0) closeUnreferenced(value, ports);
        if (!this.pending.resolve(id, value)) this.drop(f, 'reply to no request', ports);
        return;
      }
      case OP_FAIL: {
        const [, id, wire] = f;
        if (f.length !== 3 || !isCallId(id)) return this.drop(f, 'bad failure', ports);
        closeAll(f, ports);
        const error = FishnetError.fromWire(wire);
        if (!error) {
          // The caller still learns that its call failed, rather than waiting for ever.
          this.countMalformed('bad error value');
          this.pending.reject(
            id,
            new FishnetError('RT_ERR_BAD_MESSAGE', `the failure of a request to ${this.peer.name}`),
          );
          return;
        }
        if (!this.pending.reject(id, error)) this.countMalformed('failure of no request');
        return;
      }
      case OP_BYE:
        closeAll(f, ports);
        this.codec?.drainBeforeEnd?.();
        this.end({ kind: 'closed', by: 'peer' });
        return;
      default:
        this.drop(f, 'unknown opcode', ports);
    }
  }

  /** A frame is dropped: count it, and close any port the peer moved with it (so none leaks). */
  private drop(frame: unknown, reason: string, ports: readonly MessagePort[] | undefined): undefined {
    this.countMalformed(reason);
    closeAll(frame, ports);
  }

  /**
   * A notification handler threw. Its arguments came from a peer, which must not be
   * able to end this actor (or the embedding program) by them: the failure is counted
   * and reported, and the binding goes on.
   */
  handlerFailed(method: string, e: unknown): void {
    this.stats.handlerErrors++;
    if (this.stats.handlerErrors <= 10) {
      console.error(`[fishnet] handler '${method}' on '${this.service}' (from ${this.peer.name}) threw:`, e);
    }
  }

  /** A counted frame arrived: false when the peer had no credit for it. */
  private consume(): boolean {
    if (this.consumed - this.peerSeen >= CREDIT_WINDOW) {
      // A peer a whole window past its credit is not slow: it ignores the protocol.
      if (this.stats.malformedBy['over credit']! >= CREDIT_WINDOW) queueMicrotask(() => this.close());
      return false;
    }
    this.consumed++;
    this.grantHeld();
    return true;
  }

  /**
   * Hand credit back, every quarter window consumed, unless this side's own replies
   * to the peer are backed up: a peer that stops taking what it asked for gets no
   * more credit, so it can keep at most a window of requests unanswered.
   */
  private grantHeld(): void {
    if (this.consumed - this.acked < CREDIT_EVERY || this.outbox.length >= CREDIT_WINDOW) return;
    this.acked = this.consumed;
    this.port.postMessage([OP_CREDIT, this.consumed]);
  }

  /** @internal this side has more waiting for the peer's credit than a window: stop taking more from it. */
  get backlogged(): boolean {
    return this.outbox.length >= CREDIT_WINDOW;
  }

  /** @internal run `fn` once the backlog is under a window again (or the binding ends). */
  whenUnblocked(fn: () => void): void {
    this.unblocked.push(fn);
  }

  /** The peer consumed frames: more may be posted. False: not a credit frame (it is then counted like any other). */
  private credit(frame: unknown[]): boolean {
    const n = frame[1];
    if (frame.length !== 2 || typeof n !== 'number' || !Number.isInteger(n) || n < 0) return false;
    // Credit only grows, and never for frames not yet posted.
    const limit = Math.min(n, this.posted) + CREDIT_WINDOW;
    if (limit <= this.limit) return true;
    this.limit = limit;
    this.port.postMessage([OP_CREDIT_SEEN, limit - CREDIT_WINDOW]);
    while (this.outbox.length > 0 && this.hasCredit() && !this.ended) this.postOut(this.outbox.shift()!);
    if (this.outbox.length === 0 && this.hasCredit()) {
      for (const w of this.creditWaiters.splice(0)) w();
    }
    if (!this.backlogged) for (const w of this.unblocked.splice(0)) w();
    this.grantHeld();
    return true;
  }

  /** The peer saw a grant: from here on it may have up to a window past it. */
  private creditSeen(frame: unknown[]): boolean {
    const n = frame[1];
    if (frame.length !== 2 || typeof n !== 'number' || !Number.isInteger(n) || n < 0) return false;
    // Never more than was granted: a peer cannot give itself credit.
    this.peerSeen = Math.max(this.peerSeen, Math.min(n, this.acked));
    return true;
  }

  private async answer(id: number, method: string, args: unknown[]): Promise<void> {
    const fn = this.handlers.get(method);
    let reply: unknown[];
    try {
      if (!fn) throw new FishnetError('RT_ERR_NO_HANDLER', `'${method}' on '${this.service}'`);
      const value = await fn(...args);
      reply = [OP_REPLY, id, value];
    } catch (e) {
      reply = [OP_FAIL, id, FishnetError.wrap(e).toWire()];
    }
    if (this.ended) return;
    this.postReliable(reply, reply[0] === OP_REPLY ? transferables([reply[2]]) : undefined, (e) => {
      // The value could not be cloned: tell the caller rather than leave it waiting.
      if (!this.ended)
        this.post([OP_FAIL, id, FishnetError.wrap(e, 'RT_ERR_BAD_MESSAGE').toWire()], undefined);
    });
  }

  private end(reason: DisconnectReason): void {
    if (this.ended) return;
    this.ended = reason;
    this.outbox.length = 0;
    for (const w of this.creditWaiters.splice(0)) w();
    this.unblocked.length = 0;
    this.pending.close(this.endError());
    this.port.close();
    this.release(this.id);
    this.codec?.disconnected(reason);
    for (const fn of this.disconnectHandlers) {
      try {
        fn(reason);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
    this.disconnectHandlers.clear();
    this.settle(reason);
  }
}

/** A call id as this side hands them out: a positive 31-bit integer. */
function isCallId(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0 && x <= 0x7fffffff;
}

/** Arguments a plain message may carry: a frame with more is not one anybody sent in good faith. */
const MAX_ARGS = 256;

/**
 * Close the ports a dropped frame carried: those the message event listed, or (for a
 * frame taken off the port by hand) every port found anywhere in it.
 */
function closeAll(frame: unknown, ports: readonly MessagePort[] | undefined): undefined {
  if (ports) for (const p of ports) p.close();
  else closePorts(frame);
}

/** Of the ports moved with a frame, close those its delivered part does not hold. */
function closeUnreferenced(delivered: unknown, ports: readonly MessagePort[]): void {
  const kept = new Set<unknown>();
  walk(delivered, (p) => kept.add(p));
  for (const p of ports) if (!kept.has(p)) p.close();
}

/** Close every MessagePort anywhere in a value (arrays, objects, Maps, Sets; each visited once). */
export function closePorts(frame: unknown): void {
  walk(frame, (p) => p.close());
}

/** Visit every MessagePort reachable in a structured-cloned value, at most 100,000 nodes. */
function walk(root: unknown, found: (p: MessagePort) => void): void {
  if (typeof root !== 'object' || root === null) return;
  const seen = new Set<object>();
  const stack: unknown[] = [root];
  while (stack.length > 0 && seen.size < 100_000) {
    const x = stack.pop();
    if (typeof x !== 'object' || x === null || seen.has(x)) continue;
    seen.add(x);
    if (isPort(x)) {
      found(x as MessagePort);
      continue;
    }
    if (ArrayBuffer.isView(x) || x instanceof ArrayBuffer || x instanceof SharedArrayBuffer) continue;
    if (x instanceof Map) {
      for (const [k, v] of x) stack.push(k, v);
    } else if (x instanceof Set) {
      for (const v of x) stack.push(v);
    } else if (Array.isArray(x)) {
      for (const v of x) stack.push(v);
    } else {
      for (const k of Object.keys(x)) stack.push((x as Record<string, unknown>)[k]);
    }
  }
}

/** MessagePorts among the arguments move with the message (SharedArrayBuffers are shared, not moved). */
export function transferables(args: readonly unknown[]): Transferable[] | undefined {
  let list: Transferable[] | undefined;
  for (const a of args) {
    if (a !== null && typeof a === 'object' && isPort(a)) (list ??= []).push(a as Transferable);
  }
  return list;
}

function isPort(x: object): boolean {
  return x.constructor?.name === 'MessagePort' && typeof (x as MessagePort).postMessage === 'function';
}
