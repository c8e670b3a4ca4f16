// The device's physical address space: regions of SharedArrayBuffer memory at
// page-aligned physical addresses, and nothing in between. The device reaches memory
// only through resolve(): an address range that is not wholly inside one region is
// not memory, and a DMA to it is an error the device counts, never an exception.
//
// Bases only grow: a region is mapped above everything mapped before it, so an
// address, once unmapped, never names memory again during the device's life. A stale
// descriptor that points at a freed region finds nothing instead of a newer tenant.

import { FishnetError } from '../../protocols/errors.ts';
import { PHYS_LIMIT } from './descriptors.ts';

export const PAGE_SIZE = 4096;

export function pageUp(n: number): number {
  return Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;
}

interface Region {
  readonly base: number;
  readonly end: number;
  readonly sab: SharedArrayBuffer;
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
}

/** Where resolve() found an address: valid until the next resolve() on the same map. */
export class Resolved {
  /** The region's memory as bytes and as 32-bit words (words cover its whole 4-byte multiple). */
  bytes: Uint8Array = new Uint8Array(0);
  words: Int32Array = new Int32Array(0);
  /** Byte offset of the address in the region. */
  offset = 0;
  /** The region's physical base. */
  base = 0;
}

export class PhysMap {
  private readonly regions: Region[] = [];
  private last: Region | undefined;
  /** The lowest base a new region may take: past the end of everything ever mapped. */
  private floor = 0;
  private readonly found = new Resolved();

  /** Map `sab` at physical address `base`. Throws HW_ERR_BAD_REGION naming what is wrong. */
  map(base: number, sab: SharedArrayBuffer): void {
    if (!(sab instanceof SharedArrayBuffer) || sab.byteLength === 0) {
      throw new FishnetError('HW_ERR_BAD_REGION', 'a region is a non-empty SharedArrayBuffer');
    }
    if (!(Number.isSafeInteger(base) && base >= 0 && base % PAGE_SIZE === 0)) {
      throw new FishnetError('HW_ERR_BAD_REGION', `base ${base} is not a page-aligned physical address`);
    }
    if (base < this.floor) {
      throw new FishnetError(
        'HW_ERR_BAD_REGION',
        `base 0x${base.toString(16)} lies below 0x${this.floor.toString(16)}: addresses are never reused`,
      );
    }
    const end = base + sab.byteLength;
    if (end > PHYS_LIMIT) {
      throw new FishnetError('HW_ERR_ADDRESS_SPACE_FULL', `region at 0x${base.toString(16)} ends past 2^53`);
    }
    for (const r of this.regions) {
      if (r.sab === sab) {
        throw new FishnetError(
          'HW_ERR_BAD_REGION',
          `this memory is already mapped at 0x${r.base.toString(16)}`,
        );
      }
    }
    this.regions.push({
      base,
      end,
      sab,
      bytes: new Uint8Array(sab),
      words: new Int32Array(sab, 0, sab.byteLength >>> 2),
    });
    this.floor = pageUp(end);
  }

  /** Remove the region mapped at `base`. False when there is none. */
  unmap(base: number): boolean {
    const i = this.regions.findIndex((r) => r.base === base);
    if (i < 0) return false;
    if (this.last === this.regions[i]) this.last = undefined;
    this.regions.splice(i, 1);
    return true;
  }

  /** The memory mapped at exactly `base`. */
  regionAt(base: number): SharedArrayBuffer | undefined {
    return this.regions.find((r) => r.base === base)?.sab;
  }

  get regionCount(): number {
    return this.regions.length;
  }

  /** The lowest base a new region may take. */
  get nextFree(): number {
    return this.floor;
  }

  /**
   * The memory behind [addr, addr + len), or undefined when any byte of it lies
   * outside every region (or addr/len are not numbers the device can use). The
   * result is reused by the next call: copy out what you keep.
   */
  resolve(addr: number, len: number): Resolved | undefined {
    if (!(addr >= 0 && len >= 0)) return undefined;
    let r = this.last;
    if (r === undefined || addr < r.base || addr + len > r.end) {
      r = this.find(addr);
      if (r === undefined || addr + len > r.end || addr >= r.end) return undefined;
      this.last = r;
    } else if (addr >= r.end) return undefined;
    const f = this.found;
    f.bytes = r.bytes;
    f.words = r.words;
    f.offset = addr - r.base;
    f.base = r.base;
    return f;
  }

  /** The region whose base is the greatest at or below addr (regions are sorted: bases only grow). */
  private find(addr: number): Region | undefined {
    const rs = this.regions;
    let lo = 0;
    let hi = rs.length - 1;
    let best: Region | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = rs[mid]!;
      if (r.base <= addr) {
        best = r;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }
}

/**
 * Hands out physical bases for new regions: page-aligned, increasing, with an
 * unmapped guard gap after each region so that running off the end of one region
 * is a DMA error rather than a write into the next.
 */
export class PhysAllocator {
  private next: number;

  constructor(
    start: number,
    private readonly guard = PAGE_SIZE,
  ) {
    if (!(Number.isSafeInteger(start) && start >= 0 && start % PAGE_SIZE === 0)) {
      throw new FishnetError('HW_ERR_BAD_OPTION', `physical base ${start} is not page-aligned`);
    }
    this.next = start;
  }

  allocate(bytes: number): number {
    const base = this.next;
    const next = pageUp(base + bytes) + this.guard;
    if (next > PHYS_LIMIT) {
      throw new FishnetError('HW_ERR_ADDRESS_SPACE_FULL', `${bytes} bytes at 0x${base.toString(16)}`);
    }
    this.next = next;
    return base;
  }
}
