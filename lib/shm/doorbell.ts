// A doorbell that many producers ring and one consumer sleeps on: an eventcount in
// two words of a SharedArrayBuffer.
//
//   word at+0  SEQ      bumped by a ringer that wakes the sleeper
//   word at+1  WAITING  the sleeper has announced that it is about to sleep
//
// The protocol is ring.ts's, for any number of producers. A producer publishes its
// work first and then rings: ring() looks at WAITING and only when the sleeper
// announced itself does it bump SEQ and notify. The sleeper announces first
// (prepare: read SEQ, set WAITING), looks for work once more, and only then waits
// for SEQ to move. With sequentially consistent Atomics either the producer sees
// WAITING or the sleeper sees the work, so no wake-up is lost.
//
// Of several producers that see WAITING at once, one wins the compare-exchange and
// rings; the others need not: the sleeper, once woken, looks at everything again
// before it announces itself anew. So a burst of producers costs one notify, and a
// producer that rings while the sleeper is awake costs one load.

export const DOORBELL_WORDS = 2;
const SEQ = 0;
const WAITING = 1;

export type WaitResult = 'ok' | 'not-equal' | 'timed-out';

export class Doorbell {
  /** Notifies this end has sent (rings that found the sleeper announced). */
  notifies = 0;

  /** Two words of `w` from `at` on: zero when the memory is fresh. */
  constructor(
    readonly w: Int32Array,
    readonly at: number,
  ) {
    if (!(Number.isInteger(at) && at >= 0 && at + DOORBELL_WORDS <= w.length)) {
      throw new RangeError(`doorbell words ${at}..${at + DOORBELL_WORDS - 1} lie outside ${w.length} words`);
    }
  }

  /** Producer: call after publishing work. Wakes the sleeper if it sleeps; true if this call woke it. */
  ring(): boolean {
    if (Atomics.load(this.w, this.at + WAITING) === 0) return false;
    if (Atomics.compareExchange(this.w, this.at + WAITING, 1, 0) !== 1) return false;
    Atomics.add(this.w, this.at + SEQ, 1);
    Atomics.notify(this.w, this.at + SEQ, 1);
    this.notifies++;
    return true;
  }

  /** Wake the sleeper whether or not it announced itself (shutdown, control messages). */
  wake(): void {
    Atomics.store(this.w, this.at + WAITING, 0);
    Atomics.add(this.w, this.at + SEQ, 1);
    Atomics.notify(this.w, this.at + SEQ, 1);
  }

  /** Sleeper: announce the intent to sleep. Look for work after this, then wait(seq) or cancel(). */
  prepare(): number {
    const seq = Atomics.load(this.w, this.at + SEQ);
    Atomics.store(this.w, this.at + WAITING, 1);
    return seq;
  }

  /** Sleeper: there was work after all. */
  cancel(): void {
    Atomics.store(this.w, this.at + WAITING, 0);
  }

  /** Sleeper: block until rung (or `timeoutMs` passed). Only where blocking is allowed (a worker). */
  wait(seq: number, timeoutMs = Number.POSITIVE_INFINITY): WaitResult {
    const r = Atomics.wait(this.w, this.at + SEQ, seq, timeoutMs);
    Atomics.store(this.w, this.at + WAITING, 0);
    return r;
  }

  /** Sleeper: the same without blocking the thread. */
  async waitAsync(seq: number, timeoutMs = Number.POSITIVE_INFINITY): Promise<WaitResult> {
    const r = Atomics.waitAsync(this.w, this.at + SEQ, seq, timeoutMs);
    const v = r.async ? await r.value : r.value;
    Atomics.store(this.w, this.at + WAITING, 0);
    return v;
  }

  /** True while the sleeper has announced itself and no ringer has woken it. */
  get sleeping(): boolean {
    return Atomics.load(this.w, this.at + WAITING) !== 0;
  }
}
