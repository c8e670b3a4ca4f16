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
import { FishnetError, type WireError } from '../../protocols/errors.ts';
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
export const FIRST_CODEC_OP = 8;

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

type Handler = (...args: any[]) => unknown;

export class Binding {
  readonly id: BindingId;
  readonly service: string;
  readonly role: 'client' | 'server';
  readonly peer: PeerInfo;
  /** Resolves once, when the binding ends. */
  readonly closed: Promise<DisconnectReason>;
  readonly stats = { sent: 0, received: 0, unhandled: 0 };

  /** @internal the transport; typed codecs send on it directly. */
  readonly port: MessagePort;
  /** @internal outstanding requests, shared with typed rpc stubs. */
  readonly pending = new PendingCalls();

  private readonly handlers = new Map<string, Handler>();
  private readonly disconnectHandlers = new Set<(r: DisconnectReason) => void>();
  private codec: Codec | undefined;
  private ended: DisconnectReason | undefined;
  private settle!: (r: DisconnectReason) => void;
  private readonly release: (id: BindingId) => void;

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
    this.port.on('message', (frame: unknown[]) => this.receive(frame));
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
    const { id, promise } = this.pending.open<T>(opts.timeoutMs, `request '${method}' to ${this.peer.name}`);
    if (this.ended === undefined) this.post([OP_REQUEST, id, method, args], transferables(args));
    return promise;
  }

  /** One-way message. Throws RT_ERR_BINDING_CLOSED / RT_ERR_PEER_DIED when the binding has ended. */
  notify(method: string, ...args: unknown[]): void {
    this.assertOpen();
    this.post([OP_NOTIFY, method, args], transferables(args));
  }

  /** Answer requests and notifications named `method`. A handler may return a promise. */
  handle(method: string, fn: Handler): this {
    this.handlers.set(method, fn);
    return this;
  }

  onDisconnect(fn: (r: DisconnectReason) => void): () => void {
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
    this.post([OP_BYE], undefined);
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
    for (
      let m = receiveMessageOnPort(this.port);
      m !== undefined && !this.ended;
      m = receiveMessageOnPort(this.port)
    ) {
      this.receive(m.message as unknown[]);
    }
    this.codec?.drainBeforeEnd?.();
    this.end({ kind: 'peer-died', reason });
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

  /** @internal */
  post(frame: unknown[], transfer: Transferable[] | undefined): void {
    this.stats.sent++;
    this.port.postMessage(frame, transfer);
  }

  private receive(frame: unknown[]): void {
    if (this.ended) return;
    this.stats.received++;
    const op = frame[0] as number;
    if (op >= FIRST_CODEC_OP) {
      if (this.codec) this.codec.receive(frame);
      else this.stats.unhandled++;
      return;
    }
    switch (op) {
      case OP_NOTIFY: {
        const fn = this.handlers.get(frame[1] as string);
        if (!fn) {
          this.stats.unhandled++;
          return;
        }
        try {
          const r = fn(...(frame[2] as unknown[]));
          if (r instanceof Promise) r.catch((e) => reportHandlerError(this, frame[1] as string, e));
        } catch (e) {
          reportHandlerError(this, frame[1] as string, e);
        }
        return;
      }
      case OP_REQUEST:
        this.answer(frame[1] as number, frame[2] as string, frame[3] as unknown[]);
        return;
      case OP_REPLY:
        this.pending.resolve(frame[1] as number, frame[2]);
        return;
      case OP_FAIL:
        this.pending.reject(frame[1] as number, FishnetError.fromWire(frame[2] as WireError));
        return;
      case OP_BYE:
        this.codec?.drainBeforeEnd?.();
        this.end({ kind: 'closed', by: 'peer' });
        return;
      default:
        this.stats.unhandled++;
    }
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
    try {
      this.post(reply, reply[0] === OP_REPLY ? transferables([reply[2]]) : undefined);
    } catch (e) {
      // The value could not be cloned: tell the caller rather than leave it waiting.
      this.post([OP_FAIL, id, FishnetError.wrap(e, 'RT_ERR_BAD_MESSAGE').toWire()], undefined);
    }
  }

  private end(reason: DisconnectReason): void {
    if (this.ended) return;
    this.ended = reason;
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

function reportHandlerError(b: Binding, method: string, e: unknown): void {
  // A throwing notification handler is a bug in the actor: let it crash the actor,
  // as an uncaught error would, so that supervision sees it.
  queueMicrotask(() => {
    throw e instanceof Error ? e : new Error(`handler '${method}' on '${b.service}' threw ${String(e)}`);
  });
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
