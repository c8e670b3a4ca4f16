// Copying frames between memories without allocating per frame: 32-bit words where
// both ends are aligned, bytes for the rest. Exactly `len` bytes are written, never
// more: the bytes after a frame in a private buffer belong to earlier frames, which
// may have been another client's.

const views = new WeakMap<ArrayBufferLike, Int32Array>();

/** An Int32Array over the whole of a memory (made once per memory). */
function words(b: Uint8Array): Int32Array {
  let w = views.get(b.buffer);
  if (w === undefined) {
    w = new Int32Array(b.buffer, 0, b.buffer.byteLength >>> 2);
    views.set(b.buffer, w);
  }
  return w;
}

/** dst[dstOff .. dstOff+len) = src[srcOff .. srcOff+len). The caller checked both ranges. */
export function copyBytes(
  dst: Uint8Array,
  dstOff: number,
  src: Uint8Array,
  srcOff: number,
  len: number,
): void {
  let d = dst.byteOffset + dstOff;
  let s = src.byteOffset + srcOff;
  let i = 0;
  if (len >= 32 && (d & 3) === 0 && (s & 3) === 0) {
    const dw = words(dst);
    const sw = words(src);
    const n = len >>> 2;
    const dw0 = d >>> 2;
    const sw0 = s >>> 2;
    for (let k = 0; k < n; k++) dw[dw0 + k] = sw[sw0 + k]!;
    i = n << 2;
  }
  d = dstOff + i;
  s = srcOff + i;
  for (; i < len; i++) dst[d++] = src[s++]!;
}
