// Waiting for a service to let go of an actor: netd until a dead client's ports are
// freed, the driver until its buffers and filters are gone. The service tells the
// waiters when something of an actor was released; a waiter resolves as soon as the
// actor holds nothing, or with false when its time runs out. No polling: the one who
// kills a client learns the moment cleanup ends.

/** At most this many callers wait at once (the management API is the embedding program's). */
export const MAX_RELEASE_WAITERS = 256;

interface Waiter {
  readonly actor: number;
  readonly done: (released: boolean) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

export class ReleaseWaiters {
  private readonly waiters = new Set<Waiter>();

  /** `holds(actor)`: does the service still hold anything of this actor? */
  constructor(private readonly holds: (actor: number) => boolean) {}

  /** Resolves true once `actor` holds nothing (at once if it holds nothing now), false after `timeoutMs`. */
  until(actor: number, timeoutMs: number): Promise<boolean> {
    if (!(Number.isSafeInteger(actor) && actor >= 0)) {
      return Promise.reject(new RangeError(`actor must be an actor id, not ${String(actor)}`));
    }
    if (!(typeof timeoutMs === 'number' && timeoutMs >= 0)) {
      return Promise.reject(
        new RangeError(`timeoutMs must be a number of ms >= 0, not ${String(timeoutMs)}`),
      );
    }
    if (!this.holds(actor)) return Promise.resolve(true);
    if (this.waiters.size >= MAX_RELEASE_WAITERS) {
      return Promise.reject(new RangeError(`more than ${MAX_RELEASE_WAITERS} callers wait for releases`));
    }
    return new Promise((resolve) => {
      const w: Waiter = {
        actor,
        done: (released) => {
          clearTimeout(w.timer);
          this.waiters.delete(w);
          resolve(released);
        },
        timer: setTimeout(() => w.done(false), Math.min(timeoutMs, 2 ** 31 - 1)),
      };
      this.waiters.add(w);
    });
  }

  /** Something of `actor` was released: wake its waiters if it now holds nothing. */
  released(actor: number): void {
    if (this.waiters.size === 0 || this.holds(actor)) return;
    for (const w of [...this.waiters]) if (w.actor === actor) w.done(true);
  }

  /** The service stops: every waiter learns that the release did not happen. */
  close(): void {
    for (const w of [...this.waiters]) w.done(false);
  }

  get size(): number {
    return this.waiters.size;
  }
}
