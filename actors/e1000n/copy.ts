// Frame copies between any two views (a private receive buffer, a client's buffer,
// a held fragment), without allocating per frame: the views are resolved to whole-
// buffer byte and word arrays, made once per buffer, and lib/shm's word copy does the
// rest. Exactly `len` bytes are written: the bytes after a frame in a private buffer
// are earlier frames', which may have been another client's.

import { copyBytes as copyWhole, wordsOf } from '../../lib/shm/copy.ts';

interface Whole {
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
}

const wholes = new WeakMap<ArrayBufferLike, Whole>();

function whole(v: Uint8Array): Whole {
  let w = wholes.get(v.buffer);
  if (w === undefined) {
    w = { bytes: new Uint8Array(v.buffer), words: wordsOf(v.buffer) };
    wholes.set(v.buffer, w);
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
  const d = whole(dst);
  const s = whole(src);
  copyWhole(d.bytes, d.words, dst.byteOffset + dstOff, s.bytes, s.words, src.byteOffset + srcOff, len);
}
