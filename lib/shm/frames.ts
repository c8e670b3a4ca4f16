// A queue of frames in a SharedArrayBuffer, one direction of a cable between two
// threads: ring.ts's single-producer single-consumer ring with slots that hold one
// frame each.
//
//   slot word 0   the frame's length in bytes
//   slot word 1.. the frame's bytes
//
// The consumer does not trust the producer: a length word is read once, checked
// (0 < length <= the queue's maximum) and only that local is used; ring indices that
// claim more frames than the ring holds mark the queue corrupt. Producers publish per
// batch (ring.ts publishes every 64 slots and at flush); who wakes the consumer is up
// to the user: the ring's own doorbell (flush / sleep) or a shared one (doorbell.ts).

import { FishnetError } from '../../protocols/errors.ts';
import { createRing, RING_DATA, RingReader, RingWriter } from './ring.ts';

/** Words in a slot that carries frames of up to `maxFrame` bytes. */
export function frameSlotWords(maxFrame: number): number {
  return 1 + Math.ceil(maxFrame / 4);
}

/** A queue's memory: `capacity` (a power of two) frames of up to `maxFrame` bytes. */
export function createFrameQueue(capacity: number, maxFrame: number): SharedArrayBuffer {
  if (!(Number.isInteger(maxFrame) && maxFrame >= 1 && maxFrame <= 16_384)) {
    throw new FishnetError(
      'RT_ERR_BAD_SPEC',
      `frame queue maximum frame must be 1..16384 bytes, not ${maxFrame}`,
    );
  }
  return createRing(capacity, frameSlotWords(maxFrame));
}

export class FrameQueueWriter {
  private readonly ring: RingWriter;
  /** The queue's memory as bytes, for producers that write a frame in place. */
  readonly bytes: Uint8Array;
  private slot = -1;

  constructor(
    sab: SharedArrayBuffer,
    readonly maxFrame: number,
  ) {
    this.ring = new RingWriter(sab, frameSlotWords(maxFrame));
    this.bytes = new Uint8Array(sab);
  }

  /**
   * The byte offset where the next frame's bytes go, or -1 when the queue is full.
   * Fill at most maxFrame bytes there, then commit(length).
   */
  reserve(): number {
    this.slot = this.ring.reserve();
    return this.slot < 0 ? -1 : (this.slot + 1) * 4;
  }

  /** The queue's memory as 32-bit words (for copyBytes). */
  get words(): Int32Array {
    return this.ring.w;
  }

  /** The frame last reserved holds `length` bytes (1..maxFrame). */
  commit(length: number): void {
    if (this.slot < 0) throw new RangeError('commit without a reserved slot');
    if (!(length > 0 && length <= this.maxFrame)) {
      throw new RangeError(`frame of ${length} bytes: a frame is 1..${this.maxFrame} bytes`);
    }
    this.ring.w[this.slot] = length;
    this.slot = -1;
    this.ring.commit();
  }

  /** Copy a frame in. False when the queue is full (nothing written). */
  push(src: Uint8Array, length = src.length): boolean {
    const at = this.reserve();
    if (at < 0) return false;
    this.bytes.set(length === src.length ? src : src.subarray(0, length), at);
    this.commit(length);
    return true;
  }

  /** Make committed frames visible to the consumer (no wake-up). */
  publish(): void {
    this.ring.publish();
  }

  /** Publish, and wake the consumer if it sleeps on the queue's own doorbell (sleep()). */
  flush(): void {
    this.ring.flush();
  }

  /** Times flush() woke the consumer. */
  get doorbells(): number {
    return this.ring.doorbells;
  }

  get closed(): boolean {
    return this.ring.closed;
  }

  close(): void {
    this.ring.close();
  }
}

/** What front() found. */
export const QUEUE_EMPTY = -1;
/** The slot's length word is out of range: skip it with advance(). */
export const FRAME_MALFORMED = -2;
/** The ring's indices are impossible: the producer is broken or hostile. */
export const QUEUE_CORRUPT = -3;

export class FrameQueueReader {
  private readonly ring: RingReader;
  readonly bytes: Uint8Array;
  private offset = 0;
  private slotIndex = 0;
  /** One view per slot, reused while the slot's frames keep their length. */
  private readonly views: (Uint8Array | undefined)[];

  constructor(
    sab: SharedArrayBuffer,
    readonly maxFrame: number,
  ) {
    this.ring = new RingReader(sab, frameSlotWords(maxFrame));
    this.bytes = new Uint8Array(sab);
    this.views = new Array(this.ring.capacity).fill(undefined);
  }

  /**
   * The length of the oldest frame (its bytes are at frameOffset), QUEUE_EMPTY,
   * FRAME_MALFORMED (advance past it) or QUEUE_CORRUPT (stop reading this queue).
   */
  front(): number {
    const n = this.ring.available();
    if (n === 0) return QUEUE_EMPTY;
    if (n < 0 || n > this.ring.capacity) return QUEUE_CORRUPT;
    const slot = this.ring.front();
    this.offset = (slot + 1) * 4;
    this.slotIndex = (slot - RING_DATA) / this.ring.slotWords;
    const length = this.ring.w[slot]!;
    return length > 0 && length <= this.maxFrame ? length : FRAME_MALFORMED;
  }

  /** Byte offset in `bytes` of the frame front() returned. */
  get frameOffset(): number {
    return this.offset;
  }

  /**
   * The front frame as a view of exactly `length` bytes (front()'s answer), valid until
   * the slot is released. Views are kept per slot, so steady traffic allocates none.
   */
  frontView(length: number): Uint8Array {
    const v = this.views[this.slotIndex];
    if (v !== undefined && v.length === length) return v;
    const fresh = this.bytes.subarray(this.offset, this.offset + length);
    this.views[this.slotIndex] = fresh;
    return fresh;
  }

  /** Done with the front frame (its slot is handed back at release). */
  advance(): void {
    this.ring.advance();
  }

  /** Hand consumed slots back to the producer. Once per batch. */
  release(): void {
    this.ring.release();
  }

  /** Sleep on the queue's own doorbell until the producer flushes (see RingReader.sleep). */
  sleep(): Promise<boolean> | false {
    return this.ring.sleep();
  }

  get closed(): boolean {
    return this.ring.closed;
  }

  close(): void {
    this.ring.close();
  }
}
