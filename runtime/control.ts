// The control channel between the kernel (main thread) and one actor's worker:
// requests with replies in both directions, and one-way events. Only the runtime
// speaks on it; actors never see it.

import { type MessagePort, receiveMessageOnPort, type Transferable } from 'node:worker_threads';
import { FishnetError, type WireError } from '../protocols/errors.ts';
import { PendingCalls } from './pending.ts';

type Frame =
  | { t: 'req'; id: number; op: string; arg: unknown }
  | { t: 'res'; id: number; ok: true; value: unknown }
  | { t: 'res'; id: number; ok: false; error: WireError }
  | { t: 'ev'; op: string; arg: unknown };

export type RequestHandler = (op: string, arg: any) => unknown | Promise<unknown>;
export type EventHandler = (op: string, arg: any) => void;

export class ControlChannel {
  private readonly pending = new PendingCalls();
  private onRequest: RequestHandler = (op) => {
    throw new FishnetError('RT_ERR_NO_HANDLER', `control op '${op}'`);
  };
  private onEvent: EventHandler = () => {};
  private readonly listener = (f: Frame) => this.receive(f);

  constructor(readonly port: MessagePort) {
    port.on('message', this.listener);
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
      this.receive(m.message as Frame);
    }
  }

  /** Stop listening and reject whatever is outstanding. */
  close(error: FishnetError): void {
    this.pending.close(error);
    this.port.off('message', this.listener);
    this.port.close();
  }

  /** Let the thread exit while this channel is idle (used on the worker side). */
  unref(): void {
    this.port.unref();
  }

  private receive(f: Frame): void {
    switch (f.t) {
      case 'req':
        this.answer(f.id, f.op, f.arg);
        break;
      case 'res':
        if (f.ok) this.pending.resolve(f.id, f.value);
        else this.pending.reject(f.id, FishnetError.fromWire(f.error));
        break;
      case 'ev':
        this.onEvent(f.op, f.arg);
        break;
    }
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
