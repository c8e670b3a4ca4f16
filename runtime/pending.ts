// Outstanding requests on one channel: ids out, answers in, and on the channel's
// end every one of them rejects with the same typed error. Shared by the control
// channel, dynamic bindings and generated rpc stubs, so that "pending calls reject
// when the peer dies" is implemented once.

import { FishnetError } from '../protocols/errors.ts';

interface Entry {
  resolve(v: unknown): void;
  reject(e: unknown): void;
  timer?: ReturnType<typeof setTimeout>;
}

export class PendingCalls {
  private nextId = 1;
  private readonly calls = new Map<number, Entry>();
  private closedWith: FishnetError | undefined;

  get size(): number {
    return this.calls.size;
  }

  get closed(): FishnetError | undefined {
    return this.closedWith;
  }

  /** Start a call: returns its id and a promise for the answer. Rejects at once if closed. */
  open<T>(timeoutMs?: number, what = 'request'): { id: number; promise: Promise<T> } {
    const id = this.nextId++;
    if (this.nextId > 0x7fffffff) this.nextId = 1;
    const promise = new Promise<T>((resolve, reject) => {
      if (this.closedWith) return reject(this.closedWith);
      const entry: Entry = { resolve: resolve as (v: unknown) => void, reject };
      if (timeoutMs !== undefined && timeoutMs >= 0 && Number.isFinite(timeoutMs)) {
        entry.timer = setTimeout(() => {
          this.calls.delete(id);
          reject(new FishnetError('RT_ERR_TIMEOUT', `${what} got no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.calls.set(id, entry);
    });
    return { id, promise };
  }

  resolve(id: number, value: unknown): boolean {
    const e = this.take(id);
    e?.resolve(value);
    return e !== undefined;
  }

  reject(id: number, error: unknown): boolean {
    const e = this.take(id);
    e?.reject(error);
    return e !== undefined;
  }

  /** Reject everything outstanding and every later open(). Idempotent: the first error wins. */
  close(error: FishnetError): void {
    if (this.closedWith) return;
    this.closedWith = error;
    const all = [...this.calls.values()];
    this.calls.clear();
    for (const e of all) {
      if (e.timer) clearTimeout(e.timer);
      e.reject(error);
    }
  }

  private take(id: number): Entry | undefined {
    const e = this.calls.get(id);
    if (!e) return undefined;
    this.calls.delete(id);
    if (e.timer) clearTimeout(e.timer);
    return e;
  }
}
