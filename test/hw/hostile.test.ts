// Bad programming and hostile memory: what the real part would do, made visible
// (counted, logged once), never an exception, never a byte outside physical memory.
import test from 'ava';
import fc from 'fast-check';
import {
  DESC_BYTES,
  E1000Bus,
  E1000Device,
  PhysMap,
  regs as R,
  RXD_STAT_DD,
  TXD_CMD_EOP,
  TXD_CMD_IFCS,
  TXD_CMD_RS,
  txStatus,
  writeTx,
} from '../../hw/e1000/index.ts';
import { createSignals } from '../../hw/e1000/signals.ts';
import { DMA_BASE, discard, frame, NIC_MAC, PEER_MAC, Rig } from './rig.ts';

test('RDLEN and TDLEN not a multiple of 128: the low bits are ignored, counted and logged once', async (t) => {
  const rig = new Rig({ rxCount: 16 });
  await rig.up();
  const b = rig.bus;
  b.write32(R.RDLEN, 16 * DESC_BYTES + 40); // 296: taken as 256 = 16 descriptors
  b.write32(R.RDH, 0);
  b.write32(R.RDT, 15);
  b.write32(R.TDLEN, 8 * DESC_BYTES + 8);
  rig.turn();
  const c = rig.device.counters;
  t.is(c.programmingErrors, 2);
  t.deepEqual(
    rig.logs.map((l) => l.kind),
    ['rx-len', 'tx-len'],
  );
  for (let i = 0; i < 15; i++) t.true(rig.deliver(frame(NIC_MAC, 64)), `frame ${i}`);
  t.false(rig.deliver(frame(NIC_MAC, 64)));
  t.is(c.missed, 1);
  b.write32(R.RDLEN, 16 * DESC_BYTES + 40);
  rig.turn();
  t.is(c.programmingErrors, 3, 'counted every time');
  t.is(rig.logs.length, 2, 'logged once per kind');
});

test('RDT beyond the ring: frames are missed, counted once per value written; a good RDT recovers', async (t) => {
  const rig = new Rig({ rxCount: 8 });
  await rig.up();
  const b = rig.bus;
  const c = rig.device.counters;
  b.write32(R.RDT, 8);
  t.false(rig.deliver(frame(NIC_MAC, 64)));
  t.false(rig.deliver(frame(NIC_MAC, 64)));
  t.is(c.missed, 2);
  t.is(c.programmingErrors, 1);
  b.write32(R.RDT, 0xffff_ffff);
  t.false(rig.deliver(frame(NIC_MAC, 64)));
  t.is(c.programmingErrors, 2);
  b.write32(R.RDT, 5);
  t.true(rig.deliver(frame(NIC_MAC, 64)));
  t.true(rig.logs.some((l) => l.kind === 'rx-tail' && /RDT=8 lies beyond the ring of 8/.test(l.message)));
});

test('TDT beyond the ring: nothing is sent, nothing spins; a good TDT goes on', async (t) => {
  const rig = new Rig({ txCount: 8 });
  await rig.up();
  const b = rig.bus;
  const d = rig.driver;
  writeTx(b.dma.words, d.txAt(0), b.dma.phys(d.txBuffers), 64, TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS);
  b.dma.bytes.set(frame(PEER_MAC, 64), d.txBuffers);
  b.write32(R.TDT, 9);
  rig.turn();
  rig.turn();
  t.is(rig.sent.length, 0);
  t.false(rig.device.transmitPending(), 'the thread would sleep');
  t.is(rig.device.counters.programmingErrors, 1);
  b.write32(R.TDT, 1);
  rig.turn();
  t.is(rig.sent.length, 1);
});

test('RDH and TDH beyond the ring read as 0 (the register is corrected and the error counted)', async (t) => {
  const rig = new Rig({ rxCount: 8, txCount: 8 });
  await rig.up();
  const b = rig.bus;
  b.write32(R.RDH, 12);
  b.write32(R.TDH, 99);
  rig.turn();
  t.is(b.read32(R.RDH), 0);
  t.is(b.read32(R.TDH), 0);
  t.is(rig.device.counters.programmingErrors, 2);
});

test('a receive ring outside physical memory: the frame is dropped, nothing is written, the ring stays', async (t) => {
  const rig = new Rig();
  await rig.up();
  const b = rig.bus;
  b.write32(R.RDBAL, 0x10000);
  b.write32(R.RDBAH, 0);
  rig.turn();
  t.false(rig.deliver(frame(NIC_MAC, 64)));
  t.is(b.read32(R.RDH), 0);
  const c = rig.device.counters;
  t.is(c.rxDmaDropped, 1);
  t.is(c.dmaErrors, 1);
  // High address bits beyond 2^53 are not memory either.
  b.write32(R.RDBAH, 0xffff_ffff);
  rig.turn();
  t.false(rig.deliver(frame(NIC_MAC, 64)));
  t.is(c.dmaErrors, 2);
  t.is(rig.logs.filter((l) => l.kind === 'rx-descriptor').length, 1);
});

test('a transmit buffer outside memory drops its frame; the descriptor completes; the next frame goes', async (t) => {
  const rig = new Rig();
  await rig.up();
  const b = rig.bus;
  const d = rig.driver;
  writeTx(b.dma.words, d.txAt(0), DMA_BASE + b.dma.size - 10, 64, TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS);
  b.write32(R.TDT, 1);
  rig.driver.txNext = 1;
  rig.turn();
  t.is(txStatus(b.dma.words, d.txAt(0)), 1);
  t.is(rig.device.counters.txDmaDropped, 1);
  t.true(d.transmit([frame(PEER_MAC, 64)]));
  rig.turn();
  t.is(rig.sent.length, 1);
});

test('a transmit descriptor outside memory stalls the transmitter; moving the ring or mapping memory there recovers', async (t) => {
  const rig = new Rig();
  await rig.up();
  const b = rig.bus;
  const c = rig.device.counters;
  // Ring at a physical address with no memory yet.
  const hole = 2 ** 40;
  b.write32(R.TDBAL, 0);
  b.write32(R.TDBAH, hole / 2 ** 32);
  b.write32(R.TDLEN, 8 * DESC_BYTES);
  b.write32(R.TDH, 0);
  b.write32(R.TDT, 1);
  rig.turn();
  rig.turn();
  t.is(c.dmaErrors, 1, 'counted once per stall, not per turn');
  t.false(rig.device.transmitPending(), 'a stalled transmitter is no work: the thread sleeps');
  // Memory appears there (the IOMMU maps a region): the descriptor is read.
  const ring = new SharedArrayBuffer(4096);
  rig.phys.map(hole, ring);
  rig.device.memoryChanged();
  const f = frame(PEER_MAC, 64);
  const buf = new SharedArrayBuffer(4096);
  rig.phys.map(hole + 8192, buf);
  new Uint8Array(buf).set(f);
  writeTx(new Int32Array(ring), 0, hole + 8192, 64, TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS);
  t.true(rig.device.transmitPending());
  rig.turn();
  t.deepEqual(rig.sent, [f]);
  t.is(txStatus(new Int32Array(ring), 0), 1);
  // Stalled again, then the driver moves the ring back.
  b.write32(R.TDBAH, 0x1000);
  b.write32(R.TDH, 0);
  b.write32(R.TDT, 3);
  rig.turn();
  t.is(c.dmaErrors, 2);
  rig.driver.setupRings();
  t.true(rig.driver.transmit([f]));
  rig.turn();
  t.is(rig.sent.length, 2);
});

test('a stale descriptor into an unmapped region: a DMA error, the old memory untouched, its addresses never reused', async (t) => {
  const rig = new Rig({ rxCount: 8 });
  await rig.up();
  const client = new SharedArrayBuffer(8192);
  const clientBase = rig.phys.nextFree + 4096;
  rig.phys.map(clientBase, client);
  const words = rig.bus.dma.words;
  const d = rig.driver;
  // Descriptor 0's buffer in the client's memory: works while mapped.
  words[d.rxAt(0)] = clientBase >>> 0;
  words[d.rxAt(0) + 1] = Math.floor(clientBase / 2 ** 32);
  t.true(rig.deliver(frame(NIC_MAC, 100, 1)));
  t.is(new Uint8Array(client)[99], frame(NIC_MAC, 100, 1)[99]);
  rig.phys.unmap(clientBase);
  new Uint8Array(client).fill(0xee);
  words[d.rxAt(1)] = clientBase >>> 0;
  words[d.rxAt(1) + 1] = Math.floor(clientBase / 2 ** 32);
  t.false(rig.deliver(frame(NIC_MAC, 100, 2)));
  t.true(new Uint8Array(client).every((x) => x === 0xee));
  t.is(rig.device.counters.rxDmaDropped, 1);
  t.throws(() => rig.phys.map(clientBase, new SharedArrayBuffer(4096)), { message: /never reused/ });
});

// ------------------------------------------------------------------ the property

const REGION = 64 * 1024;
const CLIENT = 16 * 1024;

interface World {
  regs: Record<string, number>;
  descriptors: number[][]; // [lo, hi, w2, w3] at word offsets
  steps: { op: 'frame' | 'turn' | 'rdt' | 'tdt' | 'stir'; value: number; length: number; dst: number }[];
}

/** Addresses mostly on a buffer boundary inside memory, else near it (edges, guard gap), sometimes anywhere. */
const nearMemory = (base: number, size: number) =>
  fc.oneof(
    { arbitrary: fc.integer({ min: 0, max: size / 2048 - 1 }).map((k) => base + k * 2048), weight: 4 },
    { arbitrary: fc.integer({ min: -4096, max: size + 4096 }).map((o) => base + o), weight: 2 },
    { arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }), weight: 1 },
    {
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 0xffff_ffff }))
        .map(([lo, hi]) => hi * 2 ** 32 + lo),
      weight: 1,
    },
  );

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const often = <T>(usual: fc.Arbitrary<T>, other: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: usual, weight: 3 }, { arbitrary: other, weight: 1 });

const world = (base: number): fc.Arbitrary<World> =>
  fc.record({
    regs: fc.record({
      rdba: often(fc.constant(base), nearMemory(base, REGION)),
      rdlen: often(
        fc.integer({ min: 1, max: 4 }).map((n) => n * 128),
        u32,
      ),
      rdh: often(fc.integer({ min: 0, max: 8 }), u32),
      tdba: often(fc.constant(base + 1024), nearMemory(base, REGION)),
      tdlen: often(
        fc.integer({ min: 1, max: 4 }).map((n) => n * 128),
        u32,
      ),
      tdh: often(fc.integer({ min: 0, max: 8 }), u32),
      rdt: often(fc.integer({ min: 0, max: 31 }), u32),
      rctl: often(
        fc
          .tuple(fc.integer({ min: 0, max: 3 }), fc.boolean(), fc.integer({ min: 0, max: 3 }))
          .map(
            ([bsize, bsex, mo]) =>
              R.RCTL_EN |
              R.RCTL_BAM |
              R.RCTL_UPE |
              (bsize << R.RCTL_BSIZE_SHIFT) |
              (bsex ? R.RCTL_BSEX : 0) |
              (mo << R.RCTL_MO_SHIFT),
          ),
        u32,
      ),
      tctl: often(fc.constant(R.TCTL_EN | R.TCTL_PSP), u32),
      ims: u32,
      itr: fc.integer({ min: 0, max: 0xffff }),
      mdic: u32,
      eerd: u32,
    }),
    descriptors: fc.array(
      fc
        .tuple(
          fc.integer({ min: 0, max: 127 }), // the first 2 KiB: where the rings usually are
          nearMemory(base, REGION),
          often(
            fc
              .tuple(fc.integer({ min: 0, max: 2000 }), fc.integer({ min: 0, max: 255 }))
              .map(([len, cmd]) => len | (cmd << 24)),
            u32,
          ),
          u32,
        )
        .map(([slot, addr, w2, w3]) => [slot, addr, w2, w3]),
      { maxLength: 160, size: 'max' },
    ),
    steps: fc.array(
      fc.record({
        op: fc.constantFrom('frame', 'frame', 'frame', 'turn', 'rdt', 'tdt', 'tdt', 'stir'),
        value: often(fc.integer({ min: 0, max: 40 }), u32),
        length: fc.integer({ min: 0, max: 1600 }),
        dst: fc.constantFrom(NIC_MAC, 0xffff_ffff_ffff, 0x01005e000001, 0x020000000005),
      }),
      { minLength: 10, maxLength: 60, size: 'max' },
    ),
  }) as fc.Arbitrary<World>;

test('hostile memory: random descriptors and register values never throw and never touch memory outside the map', (t) => {
  const base = 2 ** 32;
  const property = fc.property(world(base), often(fc.constant(true), fc.constant(false)), (wd, linkUp) => {
    const regs = new SharedArrayBuffer(R.BAR0_BYTES);
    const signals = createSignals();
    const phys = new PhysMap();
    const memory = new SharedArrayBuffer(REGION);
    const client = new SharedArrayBuffer(CLIENT);
    const canary = new SharedArrayBuffer(4096);
    phys.map(base, memory);
    phys.map(base + REGION + 4096, canary);
    phys.unmap(base + REGION + 4096); // gone: a stale address
    phys.map(base + REGION + 16384, client);
    const mem = new Uint8Array(memory);
    const words = new Int32Array(memory);
    for (const [slot, addr, w2, w3] of wd.descriptors) {
      words[slot! * 4] = addr! >>> 0;
      words[slot! * 4 + 1] = Math.floor(addr! / 2 ** 32) | 0;
      words[slot! * 4 + 2] = w2! | 0;
      words[slot! * 4 + 3] = w3! | 0;
    }
    new Uint8Array(canary).fill(0x5a);
    new Uint8Array(client).fill(0xc3);
    const clientBefore = new Uint8Array(client).slice();
    let now = 0;
    const device = new E1000Device({
      regs,
      signals,
      phys,
      mac: NIC_MAC,
      clock: () => now,
      link: discard(),
      log: () => {},
    });
    const bus = new E1000Bus({ regs, signals, dma: { base, memory } });
    const r = wd.regs;
    bus.write32(R.RDBAL, r.rdba! >>> 0);
    bus.write32(R.RDBAH, Math.floor(r.rdba! / 2 ** 32) >>> 0);
    bus.write32(R.RDLEN, r.rdlen! >>> 0);
    bus.write32(R.RDH, r.rdh! >>> 0);
    bus.write32(R.RDT, r.rdt! >>> 0);
    bus.write32(R.TDBAL, r.tdba! >>> 0);
    bus.write32(R.TDBAH, Math.floor(r.tdba! / 2 ** 32) >>> 0);
    bus.write32(R.TDLEN, r.tdlen! >>> 0);
    bus.write32(R.TDH, r.tdh! >>> 0);
    bus.write32(R.RCTL, r.rctl! >>> 0);
    bus.write32(R.TCTL, r.tctl! >>> 0);
    bus.write32(R.IMS, r.ims! >>> 0);
    bus.write32(R.ITR, r.itr!);
    bus.write32(R.MDIC, r.mdic! >>> 0);
    bus.write32(R.EERD, r.eerd! >>> 0);
    bus.write32(R.CTRL, linkUp ? R.CTRL_SLU : 0);
    device.service();

    // What the device may write: descriptor words 2-3 in its rings, and the receive
    // buffers (at most 16 KiB each) that the ring's descriptors name when a frame
    // arrives. Buffers may overlap the ring, so the names are collected before every step.
    const before = mem.slice();
    const clientBytes = new Uint8Array(client);
    const clientBase = base + REGION + 16384;
    let clientReachable = false;
    const ring = (ba: number, len: number) => ({
      start: (ba >>> 0) - ((ba >>> 0) & 0xf) + Math.floor(ba / 2 ** 32) * 2 ** 32 - base,
      count: ((len >>> 0) & 0xfff80) / 16,
    });
    const rx = ring(r.rdba!, r.rdlen!);
    const tx = ring(r.tdba!, r.tdlen!);
    // Allowed ranges as a difference array: +1 at a range's start, -1 at its end.
    const marks = new Int32Array(REGION + 1);
    const allow = (from: number, to: number) => {
      const a = Math.max(0, from);
      const b = Math.min(REGION, to);
      if (a >= b) return;
      marks[a]!++;
      marks[b]!--;
    };
    /** Indices of a ring's descriptors that lie inside the region. */
    const inside = (ring: { start: number; count: number }): [number, number] => [
      Math.max(0, Math.ceil(-ring.start / 16)),
      Math.min(ring.count, Math.floor((REGION - ring.start) / 16)),
    ];
    const [rxFirst, rxEnd] = inside(rx);
    const [txFirst, txEnd] = inside(tx);
    for (let i = rxFirst; i < rxEnd; i++) allow(rx.start + i * 16 + 8, rx.start + i * 16 + 16);
    for (let i = txFirst; i < txEnd; i++) allow(tx.start + i * 16 + 12, tx.start + i * 16 + 16);
    const allowBuffers = () => {
      for (let i = rxFirst; i < rxEnd; i++) {
        const at = rx.start + i * 16;
        const addr = (words[at / 4 + 1]! >>> 0) * 2 ** 32 + (words[at / 4]! >>> 0);
        allow(addr - base, addr - base + 16384);
        if (addr + 16384 > clientBase && addr < clientBase + CLIENT) clientReachable = true;
      }
    };

    for (const s of wd.steps) {
      now += 300;
      if (s.op === 'frame') {
        allowBuffers();
        const f = frame(s.dst as never, Math.min(Math.max(s.length, 0), 1600), s.value);
        device.receive(f);
      } else if (s.op === 'rdt') bus.write32(R.RDT, s.value >>> 0);
      else if (s.op === 'tdt') bus.write32(R.TDT, s.value >>> 0);
      else if (s.op === 'stir') bus.write32(R.ICS, s.value >>> 0);
      device.service(now);
      const rdh = bus.read32(R.RDH);
      const tdh = bus.read32(R.TDH);
      if (rx.count > 0 && rdh >= rx.count) return false;
      if (tx.count > 0 && tdh >= tx.count) return false;
    }
    let depth = 0;
    for (let i = 0; i < REGION; i++) {
      depth += marks[i]!;
      if (mem[i] !== before[i] && depth === 0) return false;
    }
    if (!new Uint8Array(canary).every((x) => x === 0x5a)) return false;
    if (!clientReachable && !clientBytes.every((x, i) => x === clientBefore[i])) return false;
    return true;
  });
  t.notThrows(() => fc.assert(property, { seed: 0x8254, numRuns: 400 }));
});

test('random RX descriptor contents with a sane ring: every frame is either delivered whole or counted', async (t) => {
  const property = fc.asyncProperty(
    fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), u32, u32), { maxLength: 16 }),
    fc.array(fc.integer({ min: 0, max: 1600 }), { minLength: 1, maxLength: 40 }),
    async (corrupt, lengths) => {
      const rig = new Rig({ rxCount: 8, bufferSize: 512 });
      await rig.up();
      const d = rig.driver;
      const words = rig.bus.dma.words;
      for (const [i, lo, hi] of corrupt) {
        words[d.rxAt(i)] = lo | 0;
        words[d.rxAt(i) + 1] = hi | 0;
      }
      const c = rig.device.counters;
      let offered = 0;
      for (const len of lengths) {
        const f = frame(NIC_MAC, len);
        rig.deliver(f);
        offered++;
        // The driver consumes what completed (DD) without trusting the lengths.
        for (let i = 0; i < 8; i++) {
          const st = Atomics.load(words, d.rxAt(i) + 3);
          if (st & RXD_STAT_DD) Atomics.store(words, d.rxAt(i) + 3, 0);
        }
        rig.bus.write32(R.RDT, (rig.bus.read32(R.RDH) + 7) % 8);
      }
      const accounted = c.framesIn + c.missed + c.rxDmaDropped + c.rxBadLength + c.filtered + c.rxOff;
      return accounted === offered;
    },
  );
  await t.notThrowsAsync(fc.assert(property, { seed: 42, numRuns: 200 }));
});
