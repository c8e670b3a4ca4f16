// The emulated e1000's ceiling, so that later work knows what the device costs.
//
//   model     the device model alone on one thread: dev.receive() of a frame into the
//             ring and a trivial consumer that takes it back (no threads, no link)
//   rx        frames sent to nic.port, through the link queue and the device thread,
//             into the receive ring, taken by a trivial consumer polling DD on this
//             thread (re-arm, one RDT write per batch)
//   tx        frames posted by a trivial driver on this thread, transmitted by the
//             device thread, counted by the port's receiver
//   latency   one frame from port.send until the driver holds it after waitInterrupt,
//             the device asleep before each (µs, percentiles)
//
// 64-byte and 1500-byte frames. JSON to stdout (and bench/results/device.json).
// `--quick` shortens every run.
import {
  armRx,
  DESC_BYTES,
  E1000Bus,
  E1000Device,
  E1000Nic,
  PhysMap,
  regs as R,
  RXD_STAT_DD,
  TXD_CMD_EOP,
  TXD_CMD_IFCS,
  writeTx,
} from '../hw/e1000/index.ts';
import { createSignals } from '../hw/e1000/signals.ts';
import { mac, writeMac } from '../lib/net/addr.ts';
import { summarize, writeResult } from './stats.ts';

const quick = process.argv.includes('--quick');
const SECONDS = quick ? 0.5 : 2;
const ROUNDS = quick ? 1 : 3;
const NIC_MAC = mac('02:00:00:00:00:01');
const PEER = mac('02:00:00:00:00:09');
const RING = 1024;
const BUF = 2048;

function testFrame(length: number): Uint8Array {
  const f = new Uint8Array(length);
  writeMac(f, 0, NIC_MAC);
  writeMac(f, 6, PEER);
  f[12] = 0x88;
  f[13] = 0xb5;
  for (let i = 14; i < length; i++) f[i] = i & 0xff;
  return f;
}

/** Rings in DMA memory: RX at 0, TX at 64 KiB, RX buffers from 128 KiB, TX buffers after. */
const RX_RING = 0;
const TX_RING = 64 * 1024;
const RX_BUFS = 128 * 1024;
const TX_BUFS = RX_BUFS + RING * BUF;
const DMA_BYTES = TX_BUFS + RING * BUF;

/** A driver that only polls: arm every buffer, enable, link up, interrupts masked. */
function setUp(bus: E1000Bus): void {
  const dma = bus.dma;
  for (let i = 0; i < RING; i++)
    armRx(dma.words, (RX_RING + i * DESC_BYTES) / 4, dma.phys(RX_BUFS + i * BUF));
  const rx = dma.phys(RX_RING);
  const tx = dma.phys(TX_RING);
  bus.write32(R.RDBAL, rx >>> 0);
  bus.write32(R.RDBAH, Math.floor(rx / 2 ** 32));
  bus.write32(R.RDLEN, RING * DESC_BYTES);
  bus.write32(R.RDH, 0);
  bus.write32(R.RDT, RING - 1);
  bus.write32(R.TDBAL, tx >>> 0);
  bus.write32(R.TDBAH, Math.floor(tx / 2 ** 32));
  bus.write32(R.TDLEN, RING * DESC_BYTES);
  bus.write32(R.TDH, 0);
  bus.write32(R.TDT, 0);
  bus.write32(R.RCTL, R.RCTL_EN | R.RCTL_BAM | R.RCTL_SECRC);
  bus.write32(R.TCTL, R.TCTL_EN | R.TCTL_PSP);
  bus.write32(R.CTRL, R.CTRL_SLU);
}

/** The trivial consumer: take every completed descriptor, give it back, one RDT write. */
class Consumer {
  next = 0;
  taken = 0;
  bytes = 0;
  constructor(private readonly bus: E1000Bus) {}
  poll(): number {
    const w = this.bus.dma.words;
    let n = 0;
    for (;;) {
      const at = (RX_RING + this.next * DESC_BYTES) / 4;
      const status = Atomics.load(w, at + 3);
      if ((status & RXD_STAT_DD) === 0) break;
      this.bytes += w[at + 2]! & 0xffff;
      Atomics.store(w, at + 3, 0);
      this.next = (this.next + 1) % RING;
      n++;
    }
    if (n > 0) {
      this.bus.write32(R.RDT, (this.next - 1 + RING) % RING);
      this.taken += n;
    }
    return n;
  }
}

/** A link that takes every frame and forgets it. */
const discardBytes = new Uint8Array(2048);
const discard = {
  bytes: discardBytes,
  words: new Int32Array(discardBytes.buffer),
  reserve: () => 0,
  commit: () => {},
};

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function model(length: number) {
  const regs = new SharedArrayBuffer(R.BAR0_BYTES);
  const signals = createSignals();
  const phys = new PhysMap();
  const memory = new SharedArrayBuffer(DMA_BYTES);
  phys.map(2 ** 32, memory);
  const dev = new E1000Device({ regs, signals, phys, mac: NIC_MAC, clock: () => 0, link: discard });
  const bus = new E1000Bus({ regs, signals, dma: { base: 2 ** 32, memory } });
  setUp(bus);
  dev.service();
  const consumer = new Consumer(bus);
  const f = testFrame(length);
  const rates: number[] = [];
  for (let round = 0; round < ROUNDS + 1; round++) {
    const start = performance.now();
    const end = start + SECONDS * 1000;
    let n = 0;
    while (performance.now() < end) {
      for (let k = 0; k < 256; k++) dev.receive(f);
      dev.endTurn(0);
      n += consumer.poll();
    }
    if (round > 0) rates.push(n / ((performance.now() - start) / 1000)); // round 0 warms the JIT
  }
  if (dev.counters.missed > 0) throw new Error('the model bench missed frames: the consumer fell behind');
  return { framesPerSecond: Math.round(median(rates)), worst: Math.round(Math.min(...rates)) };
}

async function rx(length: number) {
  const nic = await E1000Nic.start({ mac: NIC_MAC, dmaBytes: DMA_BYTES, queueFrames: 1024, onLog: () => {} });
  try {
    const bus = new E1000Bus(nic.driverCaps);
    setUp(bus);
    const consumer = new Consumer(bus);
    const f = testFrame(length);
    const runs: { fps: number; missed: number; queueFull: number; cores: number }[] = [];
    for (let round = 0; round < ROUNDS + 1; round++) {
      const s0 = nic.stats();
      const q0 = nic.port.stats.dropped['queue-full'];
      const taken0 = consumer.taken;
      const cpu0 = process.cpuUsage();
      const start = performance.now();
      const end = start + SECONDS * 1000;
      while (performance.now() < end) {
        // Offer a batch; the port refuses (queue-full) what the queue cannot hold.
        for (let k = 0; k < 256; k++) if (!nic.port.send(f)) break;
        consumer.poll();
        await new Promise((r) => setImmediate(r));
      }
      // Let the device finish what is queued.
      for (let idle = 0; idle < 50; idle++) {
        await new Promise((r) => setTimeout(r, 1));
        if (consumer.poll() > 0) idle = 0;
      }
      const seconds = (performance.now() - start) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const s = nic.stats();
      if (round === 0) continue;
      runs.push({
        fps: (consumer.taken - taken0) / seconds,
        missed: s.missed - s0.missed,
        queueFull: nic.port.stats.dropped['queue-full'] - q0,
        cores: (cpu.user + cpu.system) / 1e6 / seconds,
      });
    }
    const fps = runs.map((r) => r.fps);
    return {
      framesPerSecond: Math.round(median(fps)),
      worst: Math.round(Math.min(...fps)),
      best: Math.round(Math.max(...fps)),
      missedPerRun: Math.round(median(runs.map((r) => r.missed))),
      refusedAtPortPerRun: Math.round(median(runs.map((r) => r.queueFull))),
      coresUsed: Math.round(median(runs.map((r) => r.cores)) * 100) / 100,
    };
  } finally {
    await nic.close();
  }
}

async function tx(length: number) {
  const nic = await E1000Nic.start({ mac: NIC_MAC, dmaBytes: DMA_BYTES, queueFrames: 1024, onLog: () => {} });
  try {
    const bus = new E1000Bus(nic.driverCaps);
    setUp(bus);
    const dma = bus.dma;
    const f = testFrame(length);
    // Every TX buffer holds the frame; descriptors are rewritten as they are reused.
    for (let i = 0; i < RING; i++) dma.bytes.set(f, TX_BUFS + i * BUF);
    let arrived = 0;
    nic.port.setReceiver(() => {
      arrived++;
    });
    let tail = 0;
    const fps: number[] = [];
    for (let round = 0; round < ROUNDS + 1; round++) {
      const a0 = arrived;
      const start = performance.now();
      const end = start + SECONDS * 1000;
      while (performance.now() < end) {
        // Fill the ring up to the device's head (TDH), one TDT write per batch.
        const head = bus.read32(R.TDH);
        let n = 0;
        while ((tail + 1) % RING !== head && n < 256) {
          writeTx(
            dma.words,
            (TX_RING + tail * DESC_BYTES) / 4,
            dma.phys(TX_BUFS + tail * BUF),
            length,
            TXD_CMD_EOP | TXD_CMD_IFCS,
          );
          tail = (tail + 1) % RING;
          n++;
        }
        if (n > 0) bus.write32(R.TDT, tail);
        await new Promise((r) => setImmediate(r));
      }
      const seconds = (performance.now() - start) / 1000;
      if (round > 0) fps.push((arrived - a0) / seconds);
    }
    const s = nic.stats();
    return {
      framesPerSecond: Math.round(median(fps)),
      worst: Math.round(Math.min(...fps)),
      best: Math.round(Math.max(...fps)),
      wireDropped: s.wireDropped,
    };
  } finally {
    await nic.close();
  }
}

/**
 * One frame at a time: port.send to the driver holding it after waitInterrupt (ITR 0),
 * the device asleep in between (so each includes waking it and the interrupt's wake-up).
 */
async function latency() {
  const nic = await E1000Nic.start({ mac: NIC_MAC, dmaBytes: DMA_BYTES, onLog: () => {} });
  try {
    const bus = new E1000Bus(nic.driverCaps);
    setUp(bus);
    bus.write32(R.IMS, R.INT_RXT0);
    const consumer = new Consumer(bus);
    const f = testFrame(64);
    const us: number[] = [];
    const n = quick ? 200 : 1000;
    for (let i = 0; i < n + 50; i++) {
      await new Promise((r) => setTimeout(r, 1)); // long enough for the device to sleep
      bus.read32(R.ICR);
      bus.interruptPending();
      const t0 = performance.now();
      nic.port.send(f);
      while (consumer.poll() === 0) {
        if ((await bus.waitInterrupt(1000)) !== 'interrupt') throw new Error('no interrupt');
        bus.read32(R.ICR);
      }
      if (i >= 50) us.push((performance.now() - t0) * 1000);
    }
    return summarize(us);
  } finally {
    await nic.close();
  }
}

const result: Record<string, unknown> = { seconds: SECONDS, rounds: ROUNDS, ringDescriptors: RING };
for (const length of (process.env.BENCH_LENGTHS ?? '64,1500').split(',').map(Number)) {
  const key = `${length}B`;
  const m = model(length);
  const r = await rx(length);
  const t = await tx(length);
  result[key] = {
    model: { ...m, gbitPerSecond: Math.round((m.framesPerSecond * length * 8) / 1e7) / 100 },
    rx: { ...r, gbitPerSecond: Math.round((r.framesPerSecond * length * 8) / 1e7) / 100 },
    tx: { ...t, gbitPerSecond: Math.round((t.framesPerSecond * length * 8) / 1e7) / 100 },
  };
}
result.sendToInterruptUs = await latency();
console.log(JSON.stringify(result, null, 2));
if (!process.argv.includes('--no-write')) writeResult('device', result);
