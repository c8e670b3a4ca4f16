// The physical address space: regions, resolve(), bases that are never reused.
import test from 'ava';
import fc from 'fast-check';
import { joinPhys, PAGE_SIZE, PhysAllocator, PhysMap, physHigh, physLow } from '../../hw/e1000/index.ts';
import { FishnetError } from '../../protocols/errors.ts';

test('resolve: inside one region gives its memory and offset; any byte outside gives undefined', (t) => {
  const m = new PhysMap();
  const a = new SharedArrayBuffer(8192);
  const b = new SharedArrayBuffer(100);
  m.map(0x10000, a);
  m.map(0x20000, b);
  const r = m.resolve(0x10010, 16)!;
  t.is(r.offset, 0x10);
  t.is(r.base, 0x10000);
  t.is(r.bytes.buffer, a);
  t.is(r.words.length, 2048);
  t.is(m.resolve(0x11ff0, 16)?.offset, 0x1ff0, 'the last 16 bytes');
  t.is(m.resolve(0x11ff1, 16), undefined, 'one byte past the end');
  t.is(m.resolve(0x12000, 0), undefined, 'the end itself is not memory');
  t.is(m.resolve(0xfff0, 32), undefined, 'starts below the region');
  t.is(m.resolve(0x20000, 100)?.bytes.buffer, b);
  t.is(m.resolve(0x20000, 101), undefined, 'regions need not be whole pages; their ends are exact');
  t.is(m.resolve(0x12000, 16), undefined, 'the gap between regions');
  t.is(m.resolve(-1, 1), undefined);
  t.is(m.resolve(Number.NaN, 1), undefined);
  t.is(m.resolve(0x10000, -1), undefined);
  t.is(m.resolve(0, 1), undefined);
  t.is(m.resolve(2 ** 60, 1), undefined);
});

test('map: page-aligned bases only, above everything mapped before; the same memory only once', (t) => {
  const m = new PhysMap();
  const a = new SharedArrayBuffer(5000);
  m.map(PAGE_SIZE * 4, a);
  t.is(m.nextFree, PAGE_SIZE * 6);
  const err = (f: () => void, re: RegExp) => {
    const e = t.throws(f) as FishnetError;
    t.true(e instanceof FishnetError && e.is('HW_ERR_BAD_REGION') && re.test(e.message), e.message);
  };
  err(() => m.map(PAGE_SIZE * 8 + 1, new SharedArrayBuffer(10)), /not a page-aligned/);
  err(() => m.map(PAGE_SIZE * 5, new SharedArrayBuffer(10)), /never reused/);
  err(() => m.map(PAGE_SIZE * 8, a), /already mapped/);
  err(() => m.map(PAGE_SIZE * 8, new SharedArrayBuffer(0)), /non-empty/);
  err(
    () => m.map(PAGE_SIZE * 8, new ArrayBuffer(10) as unknown as SharedArrayBuffer),
    /non-empty SharedArrayBuffer/,
  );
  t.true(m.unmap(PAGE_SIZE * 4));
  t.false(m.unmap(PAGE_SIZE * 4));
  err(() => m.map(PAGE_SIZE * 4, a), /never reused/);
  t.is(m.resolve(PAGE_SIZE * 4, 1), undefined);
  m.map(PAGE_SIZE * 6, a); // the same memory again, at a new address
  t.is(m.resolve(PAGE_SIZE * 6, 1)?.bytes.buffer, a);
  const full = t.throws(() =>
    m.map(2 ** 53 - PAGE_SIZE, new SharedArrayBuffer(2 * PAGE_SIZE)),
  ) as FishnetError;
  t.true(full.is('HW_ERR_ADDRESS_SPACE_FULL'));
});

test('the allocator: page-aligned, increasing, a guard gap after each region', (t) => {
  const al = new PhysAllocator(2 ** 32);
  const a = al.allocate(100);
  const b = al.allocate(PAGE_SIZE);
  const c = al.allocate(3 * PAGE_SIZE + 1);
  const d = al.allocate(1);
  t.is(a, 2 ** 32);
  t.is(b, a + 2 * PAGE_SIZE);
  t.is(c, b + 2 * PAGE_SIZE);
  t.is(d, c + 5 * PAGE_SIZE);
  t.throws(() => new PhysAllocator(123), { message: /not page-aligned/ });
  const near = new PhysAllocator(2 ** 53 - 2 * PAGE_SIZE);
  t.throws(() => near.allocate(PAGE_SIZE * 4), { message: /No physical address space/ });
});

test('physical addresses travel as two u32 words; 2^53 and above are not addresses', (t) => {
  for (const a of [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 0x1234, 2 ** 53 - 1]) {
    t.is(joinPhys(physLow(a), physHigh(a)), a);
  }
  t.is(joinPhys(0, 0x20_0000), -1);
  t.is(joinPhys(0xffff_ffff, 0xffff_ffff), -1);
  t.is(joinPhys(-1, 0), 2 ** 32 - 1, 'words are unsigned');
});

test('property: resolve() agrees with a byte-by-byte model of the map', (t) => {
  const prop = fc.property(
    fc.array(fc.tuple(fc.integer({ min: 1, max: 3 * PAGE_SIZE }), fc.boolean()), {
      minLength: 1,
      maxLength: 8,
    }),
    fc.array(
      fc.tuple(fc.integer({ min: 0, max: 40 * PAGE_SIZE }), fc.integer({ min: 0, max: 2 * PAGE_SIZE })),
      {
        maxLength: 50,
      },
    ),
    (regions, probes) => {
      const m = new PhysMap();
      const al = new PhysAllocator(PAGE_SIZE);
      const live: { base: number; size: number; sab: SharedArrayBuffer }[] = [];
      for (const [size, keep] of regions) {
        const sab = new SharedArrayBuffer(size);
        const base = al.allocate(size);
        m.map(base, sab);
        if (keep) live.push({ base, size, sab });
        else m.unmap(base);
      }
      for (const [addr, len] of probes) {
        const owner = live.find((r) => addr >= r.base && addr + Math.max(len, 1) <= r.base + r.size);
        const got = m.resolve(addr, len);
        if (owner === undefined) {
          if (got !== undefined) return false;
        } else if (got === undefined || got.bytes.buffer !== owner.sab || got.offset !== addr - owner.base) {
          return false;
        }
      }
      return true;
    },
  );
  t.notThrows(() => fc.assert(prop, { seed: 7, numRuns: 500 }));
});
