// copyBytes: every alignment and length copies exactly the range, and nothing else.
import test from 'ava';
import fc from 'fast-check';
import { copyBytes, wordsOf } from '../../lib/shm/copy.ts';

test('property: copyBytes equals a byte-by-byte copy for any offsets and lengths', (t) => {
  const size = 4096;
  const src = new Uint8Array(new SharedArrayBuffer(size));
  const dst = new Uint8Array(new SharedArrayBuffer(size));
  for (let i = 0; i < size; i++) src[i] = (i * 131 + 7) & 0xff;
  const sw = wordsOf(src.buffer);
  const dw = wordsOf(dst.buffer);
  const prop = fc.property(
    fc.integer({ min: 0, max: 2000 }),
    fc.integer({ min: 0, max: 2000 }),
    fc.integer({ min: 0, max: 2000 }),
    (s, d, n) => {
      dst.fill(0xaa);
      copyBytes(dst, dw, d, src, sw, s, n);
      for (let i = 0; i < size; i++) {
        const want = i >= d && i < d + n ? src[s + i - d] : 0xaa;
        if (dst[i] !== want) return false;
      }
      return true;
    },
  );
  t.notThrows(() => fc.assert(prop, { seed: 11, numRuns: 1000 }));
});

test('wordsOf covers the whole words of a buffer whose length is not a multiple of 4', (t) => {
  t.is(wordsOf(new ArrayBuffer(10)).length, 2);
  t.is(wordsOf(new SharedArrayBuffer(4096)).length, 1024);
});
