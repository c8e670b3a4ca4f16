// A single-producer single-consumer ring of fixed-size slots in a SharedArrayBuffer:
// Barrelfish's UMP channel, in one direction.
//
// Layout (32-bit words). The indices live on separate 64-byte lines so that the
// producer's and the consumer's writes do not share a cache line.
//
//   word  0  HEAD        slots consumed (written by the consumer)
//   word 16  TAIL        slots published (written by the producer)
//   word 32  C_WAITING   the consumer is asleep on DATA_SEQ
//   word 33  DATA_SEQ    bumped by the producer to wake the consumer
//   word 34  CLOSED      set by either side when the binding ends
//   word 48  P_WAITING   the producer is asleep on SPACE_SEQ
//   word 49  SPACE_SEQ   bumped by the consumer to wake the producer
//   word 56  CAPACITY, word 57 SLOT_WORDS (so that each side can check the other)
//   word 64  slot 0, slot 1, ... each SLOT_WORDS words
//
// Doorbells are eventcounts: a side that goes to sleep first announces it, then
// looks once more; the other side publishes, then looks whether anyone sleeps. With
// sequentially consistent Atomics one of the two always sees the other, so no
// wake-up is lost. The producer rings at most once per batch (flush), and only when
// the consumer sleeps.

import { FishnetError } from '../../protocols/errors.ts';

const HEAD = 0;
const TAIL = 16;
const C_WAITING = 32;
const DATA_SEQ = 33;
const CLOSED = 34;
const P_WAITING = 48;
const SPACE_SEQ = 49;
const CAPACITY = 56;
const SLOT_WORDS = 57;
export const RING_DATA = 64;

export const MAX_RING_BYTES = 64 << 20;

export function ringBytes(capacity: number, slotWords: number): number {
  return (RING_DATA + capacity * slotWords) * 4;
}

/** A ring's memory, initialised. Capacity is a power of two. */
export function createRing(capacity: number, slotWords: number): SharedArrayBuffer {
  if (
    !(Number.isInteger(capacity) && capacity >= 2 && capacity <= 1 << 20 && (capacity & (capacity - 1)) === 0)
  ) {
    throw new FishnetError(
      'RT_ERR_BAD_SPEC',
      `ring capacity must be a power of two in 2..2^20, not ${capacity}`,
    );
  }
  if (!(Number.isInteger(slotWords) && slotWords >= 2 && slotWords <= 4096)) {
    throw new FishnetError('RT_ERR_BAD_SPEC', `ring slot size must be 2..4096 words, not ${slotWords}`);
  }
  const bytes = ringBytes(capacity, slotWords);
  if (bytes > MAX_RING_BYTES)
    throw new FishnetError('RT_ERR_BAD_SPEC', `ring of ${bytes} bytes exceeds ${MAX_RING_BYTES}`);
  const sab = new SharedArrayBuffer(bytes);
  const w = new Int32Array(sab);
  w[CAPACITY] = capacity;
  w[SLOT_WORDS] = slotWords;
  return sab;
}

/** A ring's shape, as whoever made it says (the kernel, for a binding's rings). */
export interface RingLayout {
  readonly capacity: number;
  readonly slotWords: number;
}

abstract class RingEnd {
  readonly w: Int32Array;
  readonly capacity: number;
  readonly slotWords: number;
  protected readonly mask: number;

  /**
   * `layout` is the shape the ring was made with, from a trusted party; without it the
   * ring's own header words are read (once) and checked. Either way the memory must
   * have exactly that shape: the peer shares these words and may have changed them.
   */
  constructor(sab: SharedArrayBuffer, expectSlotWords: number, layout?: RingLayout) {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < RING_DATA * 4) {
      throw new FishnetError('RT_ERR_BAD_SPEC', 'a ring needs a SharedArrayBuffer made by createRing');
    }
    this.w = new Int32Array(sab);
    const capacity = layout ? layout.capacity : this.w[CAPACITY]!;
    const slotWords = layout ? layout.slotWords : this.w[SLOT_WORDS]!;
    if (
      !(
        Number.isInteger(capacity) &&
        capacity >= 2 &&
        capacity <= 1 << 20 &&
        (capacity & (capacity - 1)) === 0
      ) ||
      !(Number.isInteger(slotWords) && slotWords >= expectSlotWords && slotWords <= 4096) ||
      sab.byteLength !== ringBytes(capacity, slotWords)
    ) {
      throw new FishnetError('RT_ERR_BAD_SPEC', `ring layout does not fit slots of ${expectSlotWords} words`);
    }
    this.capacity = capacity;
    this.slotWords = slotWords;
    this.mask = capacity - 1;
  }

  get closed(): boolean {
    return Atomics.load(this.w, CLOSED) !== 0;
  }

  /** End the ring for both sides and wake whoever sleeps on it. */
  close(): void {
    Atomics.store(this.w, CLOSED, 1);
    Atomics.add(this.w, DATA_SEQ, 1);
    Atomics.notify(this.w, DATA_SEQ);
    Atomics.add(this.w, SPACE_SEQ, 1);
    Atomics.notify(this.w, SPACE_SEQ);
  }

  protected slotAt(index: number): number {
    return RING_DATA + (index & this.mask) * this.slotWords;
  }
}

/** Slots a producer may fill before it publishes them (it also publishes at every flush). */
const PUBLISH_EVERY = 64;

export class RingWriter extends RingEnd {
  /** Slots filled (local: the consumer sees them once published). */
  private tail: number;
  /** Slots published: the TAIL word. */
  private published: number;
  private headSeen: number;
  /** Slots published since the last doorbell. */
  private unsignalled = 0;
  doorbells = 0;

  constructor(sab: SharedArrayBuffer, slotWords: number, layout?: RingLayout) {
    super(sab, slotWords, layout);
    this.tail = Atomics.load(this.w, TAIL);
    this.published = this.tail;
    this.headSeen = Atomics.load(this.w, HEAD);
  }

  /** Word offset of the next free slot, or -1 when the ring is full (the caller learns TX_BUSY). */
  reserve(): number {
    if (((this.tail - this.headSeen) | 0) >= this.capacity) {
      this.headSeen = Atomics.load(this.w, HEAD);
      if (((this.tail - this.headSeen) | 0) >= this.capacity) return -1;
    }
    return this.slotAt(this.tail);
  }

  /**
   * The slot last reserved is filled. It is published with the next PUBLISH_EVERY
   * slots or at the next flush, whichever comes first: one sequentially consistent
   * store per batch rather than per message.
   */
  commit(): void {
    this.tail = (this.tail + 1) | 0;
    if (((this.tail - this.published) | 0) >= PUBLISH_EVERY) this.publish();
  }

  /** Make every filled slot visible to the consumer (no doorbell). */
  publish(): void {
    if (this.tail === this.published) return;
    this.unsignalled += (this.tail - this.published) | 0;
    this.published = this.tail;
    Atomics.store(this.w, TAIL, this.tail);
  }

  /** Publish what is filled and ring the doorbell if the consumer sleeps. Call once per batch. */
  flush(): void {
    this.publish();
    if (this.unsignalled === 0) return;
    this.unsignalled = 0;
    if (Atomics.load(this.w, C_WAITING) !== 0) {
      Atomics.store(this.w, C_WAITING, 0);
      Atomics.add(this.w, DATA_SEQ, 1);
      Atomics.notify(this.w, DATA_SEQ, 1);
      this.doorbells++;
    }
  }

  hasRoom(): boolean {
    return this.reserve() >= 0;
  }

  /** Resolves when a slot is free; rejects when the ring is closed. */
  async writable(onClosed: () => Error): Promise<void> {
    for (;;) {
      if (this.closed) throw onClosed();
      if (this.hasRoom()) return;
      this.flush();
      const seq = Atomics.load(this.w, SPACE_SEQ);
      Atomics.store(this.w, P_WAITING, 1);
      if (this.hasRoom() || this.closed) {
        Atomics.store(this.w, P_WAITING, 0);
        continue;
      }
      const r = Atomics.waitAsync(this.w, SPACE_SEQ, seq);
      if (r.async) await r.value;
    }
  }
}

export class RingReader extends RingEnd {
  private head: number;
  private published: number;

  constructor(sab: SharedArrayBuffer, slotWords: number, layout?: RingLayout) {
    super(sab, slotWords, layout);
    this.head = Atomics.load(this.w, HEAD);
    this.published = this.head;
  }

  /** Slots published and not yet consumed. */
  available(): number {
    return (Atomics.load(this.w, TAIL) - this.head) | 0;
  }

  /** Word offset of the oldest unconsumed slot (call only when available() > 0). */
  front(): number {
    return this.slotAt(this.head);
  }

  /** Done with the front slot. Space is handed back in release(). */
  advance(): void {
    this.head = (this.head + 1) | 0;
  }

  /** Hand consumed slots back to the producer, waking it if it waits for room. */
  release(): void {
    if (this.head === this.published) return;
    this.published = this.head;
    Atomics.store(this.w, HEAD, this.head);
    if (Atomics.load(this.w, P_WAITING) !== 0) {
      Atomics.store(this.w, P_WAITING, 0);
      Atomics.add(this.w, SPACE_SEQ, 1);
      Atomics.notify(this.w, SPACE_SEQ, 1);
    }
  }

  /**
   * Sleep until the producer publishes. Resolves at once (false) when there is data
   * already; true after a real wait. Either way the caller drains next.
   */
  sleep(): Promise<boolean> | false {
    const seq = Atomics.load(this.w, DATA_SEQ);
    Atomics.store(this.w, C_WAITING, 1);
    if (this.available() !== 0 || this.closed) {
      Atomics.store(this.w, C_WAITING, 0);
      return false;
    }
    const r = Atomics.waitAsync(this.w, DATA_SEQ, seq);
    if (!r.async) {
      Atomics.store(this.w, C_WAITING, 0);
      return false;
    }
    return r.value.then(() => true);
  }
}
