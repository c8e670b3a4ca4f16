// At most `max` calls of a kind in flight; the rest wait their turn, in order. netd
// puts its calls to the driver through one: a dead client's thousands of ports must
// not become thousands of requests on one binding at once.

export class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private head = 0;

  constructor(readonly max: number) {
    if (!(Number.isInteger(max) && max >= 1))
      throw new RangeError(`Limiter: max must be an integer >= 1, not ${max}`);
  }

  /** Calls started and not yet settled. */
  get inFlight(): number {
    return this.running;
  }

  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.running >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    else this.running++;
    try {
      return await call();
    } finally {
      this.next();
    }
  }

  /** Hand the slot to the next waiter (it counts as running still), or free it. */
  private next(): void {
    if (this.head < this.waiting.length) {
      const go = this.waiting[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
      go();
    } else this.running--;
  }
}
