// The internet checksum (RFC 1071), the TCP/UDP pseudo-header, and the incremental
// update of RFC 1624 for a changed 16-bit word.

/** One's-complement sum of 16-bit big-endian words, not yet folded or complemented. */
export function sum16(b: Uint8Array, off: number, len: number, initial = 0): number {
  let s = initial;
  const end = off + len - 1;
  let i = off;
  for (; i < end; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (i === end) s += b[i]! << 8; // odd length: pad with zero
  // Fold now and then so the sum stays a small integer.
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

export function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/** The checksum field value for a region (0 already in the field). */
export function internetChecksum(b: Uint8Array, off: number, len: number, initial = 0): number {
  return ~fold(sum16(b, off, len, initial)) & 0xffff;
}

/** True when the region, checksum field included, sums to all ones. */
export function checksumValid(b: Uint8Array, off: number, len: number, initial = 0): boolean {
  return fold(sum16(b, off, len, initial)) === 0xffff;
}

/** The IPv4 pseudo-header's contribution to a TCP or UDP checksum. */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return fold((src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length);
}

/**
 * RFC 1624 (eqn. 3): the new checksum after one 16-bit word changed from `old` to
 * `now`. Equal to recomputing, except when the data has become all zeros: this gives
 * 0x0000 where recomputing gives 0xffff (+0 and -0 in one's complement).
 */
export function checksumUpdate(checksum: number, old: number, now: number): number {
  return ~fold((~checksum & 0xffff) + (~old & 0xffff) + (now & 0xffff)) & 0xffff;
}
