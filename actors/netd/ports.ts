// netd's port allocator: TCP and UDP apart. Ephemeral ports come from a range
// (default 49152-65535, as IANA and Linux's ip_local_port_range default) in a free
// list that is a FIFO: a freed port goes to the back, so it is not handed out again
// at once (least recently freed first), which keeps a late datagram for a closed
// port from reaching its next owner. A specific port (bind) is taken out of wherever
// it is. Everything is O(1): the list is two arrays of links over all 65,536 ports.

export type PortType = 'tcp' | 'udp';

export interface PortRange {
  readonly first: number;
  readonly last: number;
}

export const DEFAULT_EPHEMERAL: PortRange = { first: 49152, last: 65535 };

const NONE = -1;

/** One port space (TCP's or UDP's). */
class PortSpace {
  private readonly used = new Uint8Array(65536);
  private readonly next = new Int32Array(65536).fill(NONE);
  private readonly prev = new Int32Array(65536).fill(NONE);
  private head = NONE;
  private tail = NONE;
  private free = 0;

  constructor(private readonly range: PortRange) {
    for (let p = range.first; p <= range.last; p++) this.append(p);
  }

  get inUse(): number {
    let n = 0;
    for (let p = 1; p < 65536; p++) n += this.used[p]!;
    return n;
  }

  get freeEphemeral(): number {
    return this.free;
  }

  /** The least recently freed ephemeral port, or 0 when none is left. */
  allocate(): number {
    const p = this.head;
    if (p === NONE) return 0;
    this.unlink(p);
    this.used[p] = 1;
    return p;
  }

  /** Take a given port; false if it is in use. */
  take(port: number): boolean {
    if (this.used[port]) return false;
    if (this.inRange(port)) this.unlink(port);
    this.used[port] = 1;
    return true;
  }

  release(port: number): void {
    if (!this.used[port]) return;
    this.used[port] = 0;
    if (this.inRange(port)) this.append(port);
  }

  isUsed(port: number): boolean {
    return this.used[port] === 1;
  }

  private inRange(p: number): boolean {
    return p >= this.range.first && p <= this.range.last;
  }

  private append(p: number): void {
    this.prev[p] = this.tail;
    this.next[p] = NONE;
    if (this.tail === NONE) this.head = p;
    else this.next[this.tail] = p;
    this.tail = p;
    this.free++;
  }

  private unlink(p: number): void {
    const a = this.prev[p]!;
    const b = this.next[p]!;
    if (a === NONE) this.head = b;
    else this.next[a] = b;
    if (b === NONE) this.tail = a;
    else this.prev[b] = a;
    this.prev[p] = NONE;
    this.next[p] = NONE;
    this.free--;
  }
}

export class PortAllocator {
  private readonly spaces: Record<PortType, PortSpace>;

  constructor(readonly range: PortRange = DEFAULT_EPHEMERAL) {
    if (
      !(Number.isInteger(range.first) && Number.isInteger(range.last)) ||
      range.first < 1024 ||
      range.last > 65535 ||
      range.first > range.last
    ) {
      throw new RangeError(
        `ephemeral ports must be a range within 1024..65535, not ${range.first}..${range.last}`,
      );
    }
    this.spaces = { tcp: new PortSpace(range), udp: new PortSpace(range) };
  }

  /** An ephemeral port, or 0 when the range is exhausted. */
  allocate(type: PortType): number {
    return this.spaces[type].allocate();
  }

  /** A given port (1..65535); false if it is taken. */
  take(type: PortType, port: number): boolean {
    return this.spaces[type].take(port);
  }

  release(type: PortType, port: number): void {
    this.spaces[type].release(port);
  }

  isUsed(type: PortType, port: number): boolean {
    return this.spaces[type].isUsed(port);
  }

  freeEphemeral(type: PortType): number {
    return this.spaces[type].freeEphemeral;
  }

  /** Ports in use (counted over the whole space: for tests and inspection). */
  inUse(type: PortType): number {
    return this.spaces[type].inUse;
  }
}
