// A FIFO of frames in memory allocated once: `capacity` slots of `slotSize` bytes
// each, a length and a timestamp per slot. Links and middlewares queue frames here
// instead of allocating a buffer per frame.

export class FrameRing {
  readonly capacity: number;
  readonly slotSize: number;
  private readonly bytes: Uint8Array;
  private readonly lengths: Uint32Array;
  private readonly stamps: Float64Array;
  // One view per slot, remade only when the length differs from the last frame in
  // that slot: traffic of one frame size allocates no views at all.
  private readonly views: Uint8Array[];
  private head = 0;
  private count = 0;

  constructor(capacity: number, slotSize: number) {
    if (!(Number.isInteger(capacity) && capacity >= 1 && capacity <= 1 << 20))
      throw new RangeError(`FrameRing: capacity must be an integer in 1..2^20, not ${capacity}`);
    if (!(Number.isInteger(slotSize) && slotSize >= 1 && slotSize <= 1 << 20))
      throw new RangeError(`FrameRing: slotSize must be an integer in 1..2^20, not ${slotSize}`);
    this.capacity = capacity;
    this.slotSize = slotSize;
    this.bytes = new Uint8Array(capacity * slotSize);
    this.lengths = new Uint32Array(capacity);
    this.stamps = new Float64Array(capacity);
    this.views = [];
    for (let i = 0; i < capacity; i++) this.views.push(this.bytes.subarray(i * slotSize, i * slotSize));
  }

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Copy a frame in at the tail. False when the ring is full or the frame is larger than a slot. */
  push(frame: Uint8Array, stamp = 0): boolean {
    const n = frame.length;
    if (this.count === this.capacity || n > this.slotSize) return false;
    let slot = this.head + this.count;
    if (slot >= this.capacity) slot -= this.capacity;
    this.bytes.set(frame, slot * this.slotSize);
    this.lengths[slot] = n;
    this.stamps[slot] = stamp;
    this.count++;
    return true;
  }

  /** The oldest frame, as a view that stays valid until it is shifted out. The ring must not be empty. */
  peek(): Uint8Array {
    const slot = this.head;
    const n = this.lengths[slot]!;
    let v = this.views[slot]!;
    if (v.length !== n) {
      v = new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + slot * this.slotSize, n);
      this.views[slot] = v;
    }
    return v;
  }

  /** The stamp pushed with the oldest frame. The ring must not be empty. */
  peekStamp(): number {
    return this.stamps[this.head]!;
  }

  /** Drop the oldest frame (after peek). */
  shift(): void {
    if (this.count === 0) return;
    this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
    this.count--;
  }

  /** Forget every frame; returns how many there were. */
  clear(): number {
    const n = this.count;
    this.head = 0;
    this.count = 0;
    return n;
  }
}
