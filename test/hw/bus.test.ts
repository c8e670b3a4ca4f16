// The driver's bus: register side effects, doorbell policy, the interrupt line, caps checks.
import test from 'ava';
import { DmaMemory, E1000Bus, regs as R } from '../../hw/e1000/index.ts';
import { createSignals, SIG_DOORBELL, SIG_GONE, SIG_IRQ, SIG_PENDING } from '../../hw/e1000/signals.ts';
import { Doorbell } from '../../lib/shm/doorbell.ts';
import { FishnetError } from '../../protocols/errors.ts';

function caps() {
  return {
    regs: new SharedArrayBuffer(R.BAR0_BYTES),
    signals: createSignals(),
    dma: { base: 2 ** 32, memory: new SharedArrayBuffer(65536) },
  };
}

/** The device's side of the doorbell, as the device thread uses it. */
function sleepingDevice(signals: SharedArrayBuffer) {
  const bell = new Doorbell(new Int32Array(signals), SIG_DOORBELL);
  const seq = () => Atomics.load(new Int32Array(signals), SIG_DOORBELL);
  return { bell, seq };
}

test('register offsets are checked: outside BAR0, unaligned or not a number is HW_ERR_BAD_REGISTER', (t) => {
  const bus = new E1000Bus(caps());
  for (const off of [-4, 2, R.BAR0_BYTES, R.BAR0_BYTES + 4, 0.5, Number.NaN]) {
    const e = t.throws(() => bus.read32(off)) as FishnetError;
    t.true(e instanceof FishnetError && e.is('HW_ERR_BAD_REGISTER'), String(off));
    t.throws(() => bus.write32(off, 0), { message: /registers are 32-bit words/ });
  }
  t.throws(() => bus.write32(R.CTRL, 2 ** 32), { message: /not a 32-bit integer/ });
  t.throws(() => bus.write32(R.CTRL, 1.5), { message: /not a 32-bit integer/ });
  t.notThrows(() => bus.write32(R.CTRL, -1));
  t.is(bus.read32(R.CTRL), 0xffff_ffff, 'reads are unsigned');
});

test('caps are checked: wrong sizes, a foreign page, bad DMA base are HW_ERR_BAD_CAPS naming the field', (t) => {
  const good = caps();
  const bad = (c: unknown, re: RegExp) => {
    const e = t.throws(() => new E1000Bus(c as never)) as FishnetError;
    t.true(e instanceof FishnetError && e.is('HW_ERR_BAD_CAPS') && re.test(e.message), e.message);
  };
  bad(null, /caps must be an object/);
  bad({ ...good, regs: new SharedArrayBuffer(4096) }, /caps\.regs/);
  bad({ ...good, signals: new SharedArrayBuffer(4096) }, /not an e1000 signals page/);
  bad({ ...good, dma: { base: 4097, memory: good.dma.memory } }, /page-aligned/);
  bad({ ...good, dma: { base: 0, memory: new ArrayBuffer(8) } }, /caps\.dma\.memory/);
  bad({ ...good, dma: undefined }, /caps\.dma must be/);
  // What structured clone makes of them is still good.
  t.notThrows(() => new E1000Bus(structuredClone(good)));
});

test('writes the device must act on ring its doorbell only when it sleeps; RDT and config writes never do', (t) => {
  const c = caps();
  const bus = new E1000Bus(c);
  const dev = sleepingDevice(c.signals);
  const before = dev.seq();
  // Awake: no notify whatever is written.
  bus.write32(R.TDT, 1);
  bus.write32(R.CTRL, R.CTRL_SLU);
  t.is(dev.seq(), before);
  // Asleep: RDT, RCTL, ring registers, MTA, RAL do not wake it...
  dev.bell.prepare();
  bus.write32(R.RDT, 5);
  bus.write32(R.RCTL, R.RCTL_EN);
  bus.write32(R.RDBAL, 0x1000);
  bus.write32(R.MTA + 4, 1);
  bus.write32(R.RAL0 + 8, 1);
  bus.write32(R.IMC, 1);
  bus.read32(R.ICR);
  t.is(dev.seq(), before, 'nothing the device must act on at once');
  t.true(dev.bell.sleeping);
  // ...a batch of TDT writes wakes it once.
  for (let i = 0; i < 10; i++) bus.write32(R.TDT, i);
  t.is(dev.seq(), before + 1);
  t.false(dev.bell.sleeping);
  for (const [reg, v] of [
    [R.CTRL, 0],
    [R.EERD, R.EERD_START],
    [R.MDIC, R.MDIC_OP_READ],
    [R.TCTL, R.TCTL_EN],
    [R.IMS, R.INT_RXT0],
    [R.ICS, R.INT_RXT0],
    [R.ITR, 10],
    [R.ICR, R.INT_RXT0],
  ] as const) {
    const s = dev.seq();
    dev.bell.prepare();
    bus.write32(reg, v);
    t.is(dev.seq(), s + 1, `0x${reg.toString(16)} wakes a sleeping device`);
  }
});

test('writes record which register group changed in PENDING', (t) => {
  const c = caps();
  const bus = new E1000Bus(c);
  const pending = () => Atomics.exchange(new Int32Array(c.signals), SIG_PENDING, 0);
  bus.write32(R.RDT, 1);
  bus.write32(R.TDT, 1);
  t.is(pending(), 0, 'tails are read by the device when it needs them');
  bus.write32(R.CTRL, 0);
  t.is(pending(), 1 << 0);
  bus.write32(R.EERD, 0);
  t.is(pending(), 1 << 1);
  bus.write32(R.MTA + 508, 0);
  t.is(pending(), 1 << 2);
  bus.write32(R.RDLEN, 128);
  t.is(pending(), 1 << 3);
  bus.write32(R.TCTL, 0);
  t.is(pending(), 1 << 4);
  bus.write32(R.TDH, 0);
  t.is(pending(), 1 << 5);
  bus.write32(R.IMS, 0);
  t.is(pending(), 1 << 6);
  bus.write32(R.STATUS, 0xffff);
  bus.write32(R.MPC, 7);
  t.is(pending(), 0, 'read-only registers');
  t.is(bus.read32(R.STATUS), 0);
  t.is(bus.read32(R.MPC), 0);
});

test("EERD writes keep only START and ADDR (DONE and DATA are the device's)", (t) => {
  const bus = new E1000Bus(caps());
  bus.write32(R.EERD, 0xffff_ffff);
  t.is(bus.read32(R.EERD), R.EERD_START | R.EERD_ADDR_MASK);
});

test('waitInterrupt: at once when the line was asserted since the last call; timeout; gone', async (t) => {
  const c = caps();
  const bus = new E1000Bus(c);
  const sig = new Int32Array(c.signals);
  t.false(bus.interruptPending());
  Atomics.add(sig, SIG_IRQ, 1);
  t.is(await bus.waitInterrupt(0), 'interrupt');
  t.is(await bus.waitInterrupt(20), 'timeout');
  const waiting = bus.waitInterrupt();
  setTimeout(() => {
    Atomics.add(sig, SIG_IRQ, 1);
    Atomics.notify(sig, SIG_IRQ);
  }, 5);
  t.is(await waiting, 'interrupt');
  // Several assertions while the driver was busy: one wait returns at once, the next waits.
  Atomics.add(sig, SIG_IRQ, 3);
  t.is(await bus.waitInterrupt(0), 'interrupt');
  t.is(await bus.waitInterrupt(0), 'timeout');
  const gone = bus.waitInterrupt();
  Atomics.store(sig, SIG_GONE, 1);
  Atomics.notify(sig, SIG_IRQ);
  t.is(await gone, 'gone');
  t.true(bus.gone);
  t.is(await bus.waitInterrupt(), 'gone');
});

test('DMA memory helpers translate offsets and physical addresses, refusing what lies outside', (t) => {
  const d = new DmaMemory(2 ** 32, new SharedArrayBuffer(8192));
  t.is(d.phys(0), 2 ** 32);
  t.is(d.phys(8192), 2 ** 32 + 8192);
  t.is(d.offsetOf(2 ** 32 + 100, 16), 100);
  t.is(d.offsetOf(2 ** 32 + 8176, 16), 8176);
  t.throws(() => d.phys(8193), { message: /outside DMA memory/ });
  t.throws(() => d.offsetOf(2 ** 32 + 8177, 16), { message: /is not inside DMA memory/ });
  t.throws(() => d.offsetOf(2 ** 32 - 1), { message: /is not inside DMA memory/ });
  t.is(d.words.length, 2048);
});
