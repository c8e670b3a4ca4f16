// The control channel between the kernel (main thread) and one actor's worker:
// requests with replies in both directions, and one-way events. Only the runtime
// speaks on it; actors never see it.

import { type MessagePort, receiveMessageOnPort, type Transferable } from 'node:worker_threads';
import { FishnetError, type WireError } from '../protocols/errors.ts';
import { closePorts } from './binding/binding.ts';
import { PendingCalls } from './pending.ts';

type Frame =
  | { t: 'req'; id: number; op: string; arg: unknown }
  | { t: 'res'; id: number; ok: true; value: unknown }
  | { t: 'res'; id: number; ok: false; error: WireError }
  | { t: 'ev'; op: string; arg: unknown };

export type RequestHandler = (op: string, arg: any) => unknown | Promise<unknown>;
export type EventHandler = (op: string, arg: any) => void;

export class ControlChannel {
  /** Frames dropped because they were not well-formed. */
  dropped = 0;
  private readonly pending = new PendingCalls();
  private onRequest: RequestHandler = (op) => {
    throw new FishnetError('RT_ERR_NO_HANDLER', `control op '${op}'`);
  };
  private onEvent: EventHandler = () => {};
  private readonly listener = (ev: Event) => {
    const m = ev as unknown as { data: unknown; ports: readonly MessagePort[] };
    // The kernel never takes a port from an actor on this channel: whatever is moved
    // with a frame, wherever it hides, is closed.
    for (const p of m.ports) p.close();
    this.receive(m.data);
  };
  private readonly trusted = (f: unknown) => this.receive(f);

  /**
   * `acceptPorts`: true on an actor's side, where the other end is the kernel (its
   * frames carry offers); false on the kernel's, where the other end is an actor's code.
   */
  constructor(
    readonly port: MessagePort,
    private readonly acceptPorts = false,
  ) {
    if (acceptPorts) port.on('message', this.trusted);
    else port.addEventListener('message', this.listener);
  }

  handle(onRequest: RequestHandler, onEvent: EventHandler): void {
    this.onRequest = onRequest;
    this.onEvent = onEvent;
  }

  request<T>(op: string, arg?: unknown, transfer?: Transferable[], timeoutMs?: number): Promise<T> {
    const { id, promise } = this.pending.open<T>(timeoutMs, `control ${op}`);
    if (!this.pending.closed) this.port.postMessage({ t: 'req', id, op, arg } satisfies Frame, transfer);
    return promise;
  }

  event(op: string, arg?: unknown, transfer?: Transferable[]): void {
    if (this.pending.closed) return;
    this.port.postMessage({ t: 'ev', op, arg } satisfies Frame, transfer);
  }

  /**
   * Handle every message already queued on the port, now. A thread's last messages
   * and its exit reach the kernel on different channels, in either order: the kernel
   * drains before it acts on the exit.
   */
  drain(): void {
    if (this.pending.closed) return;
    for (let m = receiveMessageOnPort(this.port); m !== undefined; m = receiveMessageOnPort(this.port)) {
      if (!this.acceptPorts) closePorts(m.message);
      this.receive(m.message);
    }
  }

  /** Stop listening and reject whatever is outstanding. */
  close(error: FishnetError): void {
    this.pending.close(error);
    if (this.acceptPorts) this.port.off('message', this.trusted);
    else this.port.removeEventListener('message', this.listener);
    this.port.close();
  }

  /** Let the thread exit while this channel is idle (used on the worker side). */
  unref(): void {
    this.port.unref();
  }

  // The actor's code runs in the thread at the other end and can reach this port:
  // whatever arrives is checked before use, and what does not fit is dropped.
  private receive(f: unknown): undefined {
    if (typeof f !== 'object' || f === null) return this.drop(f);
    const { t, id, op, arg } = f as Record<string, unknown>;
    switch (t) {
      case 'req':
        if (typeof id !== 'number' || typeof op !== 'string') return this.drop(f);
        void this.answer(id, op, arg);
        return;
      case 'res': {
        if (typeof id !== 'number') return this.drop(f);
        const r = f as { ok?: unknown; value?: unknown; error?: unknown };
        if (r.ok === true) this.pending.resolve(id, r.value);
        else {
          const e =
            FishnetError.fromWire(r.error) ??
            new FishnetError('RT_ERR_BAD_MESSAGE', 'a control reply without a valid error');
          this.pending.reject(id, e);
        }
        return;
      }
      case 'ev':
        if (typeof op !== 'string') return this.drop(f);
        this.onEvent(op, arg);
        return;
      default:
        this.drop(f);
    }
  }

  private drop(f: unknown): undefined {
    this.dropped++;
    closePorts(f);
  }

  private async answer(id: number, op: string, arg: unknown): Promise<void> {
    let frame: Frame;
    let transfer: Transferable[] | undefined;
    try {
      const value = await this.onRequest(op, arg);
      // A handler may hand over ports: it returns { value, transfer }.
      if (value instanceof Transfer) {
        frame = { t: 'res', id, ok: true, value: value.value };
        transfer = value.list;
      } else frame = { t: 'res', id, ok: true, value };
    } catch (e) {
      frame = { t: 'res', id, ok: false, error: FishnetError.wrap(e).toWire() };
    }
    if (!this.pending.closed) this.port.postMessage(frame, transfer);
  }
}

/** A reply that moves ports or buffers along with its value. */
export class Transfer {
  constructor(
    readonly value: unknown,
    readonly list: Transferable[],
  ) {}
}
