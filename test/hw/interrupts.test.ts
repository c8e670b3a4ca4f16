// Interrupt causes, the mask, the line and its moderation (ITR) with an injected
// clock; statistics registers' read semantics.
import test from 'ava';
import fc from 'fast-check';
import { regs as R } from '../../hw/e1000/index.ts';
import { frame, NIC_MAC, Rig } from './rig.ts';

test('ICS sets causes; reading ICR returns and clears them; writing ICR clears the bits written (W1C)', (t) => {
  const rig = new Rig();
  const b = rig.bus;
  b.write32(R.ICS, R.INT_TXDW | R.INT_RXT0 | 0x8000_0000);
  t.is(b.read32(R.ICR), R.INT_TXDW | R.INT_RXT0, 'undefined cause bits are ignored');
  t.is(b.read32(R.ICR), 0);
  b.write32(R.ICS, R.INT_TXDW | R.INT_RXT0 | R.INT_LSC);
  b.write32(R.ICR, R.INT_RXT0);
  t.is(b.read32(R.ICR), R.INT_TXDW | R.INT_LSC);
});

test('IMS sets and IMC clears mask bits; IMS reads the mask; IMC and ICS read 0', (t) => {
  const rig = new Rig();
  const b = rig.bus;
  b.write32(R.IMS, R.INT_RXT0 | R.INT_TXDW);
  b.write32(R.IMS, R.INT_LSC);
  t.is(b.read32(R.IMS), R.INT_RXT0 | R.INT_TXDW | R.INT_LSC);
  b.write32(R.IMC, R.INT_TXDW);
  t.is(b.read32(R.IMS), R.INT_RXT0 | R.INT_LSC);
  t.is(b.read32(R.IMC), 0);
  t.is(b.read32(R.ICS), 0);
  b.write32(R.IMS, 0xffff_ffff);
  t.is(b.read32(R.IMS), R.INT_ALL);
});

test('the line: masked causes do not assert; unmasking a pending cause does; it stays up until ICR is read', async (t) => {
  const rig = new Rig();
  await rig.up();
  const b = rig.bus;
  rig.deliver(frame(NIC_MAC, 64));
  t.is(rig.irqs, 0, 'RXT0 masked');
  b.write32(R.IMS, R.INT_RXT0);
  rig.turn();
  t.is(rig.irqs, 1);
  t.true(b.interruptPending());
  rig.deliver(frame(NIC_MAC, 64));
  rig.turn();
  t.is(rig.irqs, 1, 'not acknowledged: no second assertion');
  t.is(b.read32(R.ICR), R.INT_RXT0);
  rig.turn();
  t.is(rig.irqs, 1, 'nothing pending after the read');
  rig.deliver(frame(NIC_MAC, 64));
  t.is(rig.irqs, 2, 'a new cause after the acknowledgement asserts again');
  t.is(rig.device.counters.interrupts, 2);
});

test('no interrupt is lost when a cause arrives between the driver reading ICR and the device noticing', async (t) => {
  const rig = new Rig();
  await rig.up(R.INT_RXT0);
  const b = rig.bus;
  rig.deliver(frame(NIC_MAC, 64));
  t.is(rig.irqs, 1);
  // Device raises RXT0 again (ICR still set): no new edge, but ICR holds it.
  rig.device.receive(frame(NIC_MAC, 64));
  t.is(b.read32(R.ICR), R.INT_RXT0); // the driver reads before the device's turn ends
  rig.device.endTurn(); // the causes of this turn reach ICR after the read
  t.is(rig.irqs, 2, 'the cause raised after the read is a new interrupt');
});

test('writing ICR to clear some causes leaves the others asserting again', async (t) => {
  const rig = new Rig();
  await rig.up(R.INT_RXT0 | R.INT_TXDW);
  const b = rig.bus;
  b.write32(R.ICS, R.INT_RXT0 | R.INT_TXDW);
  rig.turn();
  t.is(rig.irqs, 1);
  b.write32(R.ICR, R.INT_RXT0);
  rig.turn();
  t.is(rig.irqs, 2, 'TXDW still pending and unmasked');
  b.write32(R.IMC, R.INT_TXDW);
  b.write32(R.ICR, R.INT_TXDW);
  rig.turn();
  t.is(rig.irqs, 2);
});

test('ITR: no two assertions closer than the interval; a cause inside it is asserted when it ends', async (t) => {
  const rig = new Rig();
  await rig.up(R.INT_RXT0);
  const b = rig.bus;
  b.write32(R.ITR, 4); // 4 * 256 ns
  rig.now = 10_000;
  rig.turn();
  rig.deliver(frame(NIC_MAC, 64));
  t.is(rig.irqs, 1);
  b.read32(R.ICR);
  rig.now = 10_500;
  rig.deliver(frame(NIC_MAC, 64));
  t.is(rig.irqs, 1, '500 ns after the last: held');
  t.is(rig.device.nextDeadline, 10_000 + 1024);
  rig.now = 11_023;
  rig.turn();
  t.is(rig.irqs, 1);
  rig.now = 11_024;
  rig.turn();
  t.is(rig.irqs, 2, 'asserted when the interval has passed');
  t.is(rig.device.nextDeadline, Number.POSITIVE_INFINITY);
  // ITR = 0: no moderation.
  b.write32(R.ITR, 0);
  b.read32(R.ICR);
  rig.deliver(frame(NIC_MAC, 64));
  t.is(rig.irqs, 3);
});

test('ITR property: assertions are at least the interval apart, and a pending unmasked cause is asserted by its deadline', (t) => {
  const check = () =>
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 400 }),
        fc.array(
          fc.record({
            dt: fc.integer({ min: 0, max: 120_000 }),
            op: fc.constantFrom('cause', 'ack', 'turn', 'mask', 'unmask'),
          }),
          { maxLength: 60 },
        ),
        (itr, events) => {
          const rig = new Rig();
          const b = rig.bus;
          b.write32(R.ITR, itr);
          b.write32(R.IMS, R.INT_TXDW);
          rig.now = 1_000_000;
          rig.turn();
          const interval = itr * 256;
          const times: number[] = [];
          let irqs = rig.irqs;
          const observe = () => {
            if (rig.irqs !== irqs) {
              irqs = rig.irqs;
              times.push(rig.now);
            }
          };
          for (const e of events) {
            rig.now += e.dt;
            if (e.op === 'cause') b.write32(R.ICS, R.INT_TXDW);
            else if (e.op === 'ack') b.read32(R.ICR);
            else if (e.op === 'mask') b.write32(R.IMC, R.INT_TXDW);
            else if (e.op === 'unmask') b.write32(R.IMS, R.INT_TXDW);
            rig.turn();
            observe();
            // Whatever is pending and unmasked is asserted once the deadline is reached.
            const deadline = rig.device.nextDeadline;
            if (deadline !== Number.POSITIVE_INFINITY) {
              if (!(deadline > rig.now && deadline <= rig.now + interval)) return false;
              rig.now = deadline;
              rig.turn();
              observe();
              if (rig.device.nextDeadline !== Number.POSITIVE_INFINITY) return false;
            }
          }
          for (let i = 1; i < times.length; i++) if (times[i]! - times[i - 1]! < interval) return false;
          return true;
        },
      ),
      { seed: 0x1000, numRuns: 300 },
    );
  t.notThrows(check);
});

test('statistics registers stick at 0xFFFFFFFF; 64-bit pairs carry into the high half', async (t) => {
  const rig = new Rig({ rxCount: 8 });
  await rig.up();
  const regs = rig.device.regs;
  Atomics.store(regs, R.MPC >>> 2, 0xffff_fff0 | 0);
  Atomics.store(regs, R.GORCL >>> 2, 0xffff_ff00 | 0);
  for (let i = 0; i < 30; i++) rig.deliver(frame(NIC_MAC, 60));
  const b = rig.bus;
  t.is(b.read32(R.MPC), 0xffff_ffff, 'stuck');
  t.is(b.read32(R.MPC), 0);
  t.is(b.read32(R.GORCL), (0xffff_ff00 + 7 * 64) % 2 ** 32);
  t.is(b.read32(R.GORCL), (0xffff_ff00 + 7 * 64) % 2 ** 32, 'reading the low half again changes nothing');
  t.is(b.read32(R.GORCH), 1);
  t.is(b.read32(R.GORCL), 0);
  // Bytes counted between the driver's two reads are not lost: they are the next reading's.
  t.is(b.read32(R.GORCH), 0);
  Atomics.store(regs, R.GORCL >>> 2, 1000);
  t.is(b.read32(R.GORCL), 1000);
  Atomics.add(regs, R.GORCL >>> 2, 64); // the device, between the low and the high read
  t.is(b.read32(R.GORCH), 0);
  t.is(b.read32(R.GORCL), 64);
  t.is(b.read32(R.GPRC), 7);
  b.write32(R.GPRC, 55);
  t.is(b.read32(R.GPRC), 0, 'statistics registers are read-only');
});
