// End to end through the real device thread: a tiny driver on this thread (or in an
// actor) drives the NIC through E1000Bus only; frames go in at nic.port and come out
// of its receiver.
import test from 'ava';
import {
  DESC_BYTES,
  E1000Bus,
  E1000Nic,
  type E1000NicOptions,
  regs as R,
  TXD_CMD_EOP,
  TXD_CMD_IFCS,
  TXD_CMD_RS,
  txStatus,
  writeTx,
} from '../../hw/e1000/index.ts';
import { formatMac } from '../../lib/net/addr.ts';
import { FishnetError } from '../../protocols/errors.ts';
import { Runtime } from '../../runtime/index.ts';
import { activeHandles, eventually, handlesAfter } from '../helpers/runtime.ts';
import { TinyDriver } from './driver.ts';
import { BROADCAST, frame, NIC_MAC, OTHER_MAC, PEER_MAC } from './rig.ts';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function withNic<T>(
  fn: (nic: E1000Nic, logs: string[]) => Promise<T>,
  opts: Partial<E1000NicOptions> = {},
): Promise<T> {
  const logs: string[] = [];
  const nic = await E1000Nic.start({ mac: NIC_MAC, onLog: (m) => logs.push(m), ...opts });
  try {
    return await fn(nic, logs);
  } finally {
    await nic.close();
  }
}

/** The driver on this thread; `settle` gives the device thread a moment. */
function driverFor(nic: E1000Nic, layout = {}): TinyDriver {
  return new TinyDriver(new E1000Bus(nic.driverCaps), () => sleep(1), layout);
}

/** Wait for interrupts and collect received frames until `n` arrived. */
async function receiveFrames(d: TinyDriver, n: number, timeoutMs = 10_000): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const until = performance.now() + timeoutMs;
  while (out.length < n) {
    const left = until - performance.now();
    if (left <= 0) throw new Error(`received ${out.length} of ${n} frames`);
    await d.bus.waitInterrupt(Math.min(left, 200));
    d.bus.read32(R.ICR);
    out.push(...d.receive());
  }
  return out;
}

test.serial('the first NIC warms the bundler; close leaves no thread, port or timer behind', async (t) => {
  // The snapshot first: a port of the warm-up NIC still closing must not count as "before".
  const before = activeHandles();
  await withNic(async () => {});
  t.deepEqual(await handlesAfter(before), before, 'the warm-up NIC left nothing');
  for (let i = 0; i < 3; i++) {
    const nic = await E1000Nic.start({ mac: NIC_MAC, onLog: () => {} });
    const d = driverFor(nic);
    await d.bringUp();
    nic.port.send(frame(NIC_MAC, 64));
    await nic.close();
    t.true(nic.closed);
  }
  t.deepEqual(await handlesAfter(before), before);
});

test('bring-up through the bus: reset, the MAC by EERD, rings, link up with an LSC interrupt', async (t) => {
  await withNic(async (nic) => {
    const d = driverFor(nic);
    await d.reset();
    t.is(formatMac(await d.readMac()), formatMac(NIC_MAC));
    d.setupRings();
    d.bus.write32(R.IMS, R.INT_LSC);
    await d.linkUp();
    t.is(await d.bus.waitInterrupt(5000), 'interrupt');
    t.is(d.bus.read32(R.ICR) & R.INT_LSC, R.INT_LSC);
    const s = nic.stats();
    t.is(s.resets, 1);
    t.is(s.linkChanges, 1);
    await eventually(() => nic.stats().interrupts === 1);
    t.is(nic.stats().interrupts, 1);
  });
});

test('frames sent to nic.port reach the driver whole and in order, with interrupts', async (t) => {
  await withNic(async (nic) => {
    const d = driverFor(nic, { rxCount: 64 });
    await d.bringUp();
    const sent = [frame(NIC_MAC, 60, 1), frame(BROADCAST, 342, 2), frame(NIC_MAC, 1518, 3)];
    for (const f of sent) t.true(nic.port.send(f));
    t.false(nic.port.send(frame(NIC_MAC, 1519)), 'longer than the link carries');
    t.false(nic.port.send(new Uint8Array(13)));
    t.is(nic.port.stats.dropped['bad-length'], 2);
    t.deepEqual(await receiveFrames(d, 3), sent);
    // Not for us: filtered, counted.
    nic.port.send(frame(OTHER_MAC, 100));
    await eventually(() => nic.stats().filtered === 1);
    const s = nic.stats();
    t.is(s.framesIn, 3);
    t.is(s.bytesIn, 60 + 342 + 1518);
    t.is(s.filtered, 1);
    t.true(s.interrupts >= 1);
    t.is(nic.port.stats.txFrames, 4);
  });
});

test('256-byte receive buffers: frames from the port span descriptors and arrive whole', async (t) => {
  await withNic(async (nic) => {
    const d = driverFor(nic, { rxCount: 64, bufferSize: 256 });
    await d.bringUp();
    const sent = [1518, 257, 256, 700, 60].map((len, i) => frame(NIC_MAC, len, i));
    for (const f of sent) t.true(nic.port.send(f));
    t.deepEqual(await receiveFrames(d, sent.length), sent);
    t.is(nic.stats().missed, 0);
  });
});

test('frames the driver transmits arrive at the port receiver; DD is written back', async (t) => {
  await withNic(async (nic) => {
    const d = driverFor(nic, { txCount: 16 });
    await d.bringUp();
    const got: Uint8Array[] = [];
    nic.port.setReceiver((f) => got.push(f.slice()));
    const sent = [frame(PEER_MAC, 100, 1), frame(BROADCAST, 42, 2), frame(PEER_MAC, 1514, 3)];
    t.true(d.transmit(sent));
    await eventually(() => got.length === 3);
    const padded = new Uint8Array(60);
    padded.set(sent[1]!);
    t.deepEqual(got, [sent[0], padded, sent[2]]);
    t.is(await d.bus.waitInterrupt(5000), 'interrupt');
    t.is(d.bus.read32(R.ICR) & R.INT_TXDW, R.INT_TXDW);
    t.is(d.reclaim(), 3);
    t.is(nic.stats().framesOut, 3);
    t.is(nic.port.stats.rxFrames, 3);
    // With no receiver, frames are dropped and counted as 'closed'.
    nic.port.setReceiver(undefined);
    d.transmit([frame(PEER_MAC, 64)]);
    await eventually(() => nic.port.stats.dropped.closed === 1);
    t.is(nic.port.stats.dropped.closed, 1);
  });
});

test('a stream of 3000 frames through a 64-descriptor ring: every frame delivered or counted as missed', async (t) => {
  await withNic(async (nic) => {
    const d = driverFor(nic, { rxCount: 64 });
    await d.bringUp();
    d.bus.write32(R.ITR, 200); // 51 us between interrupts
    const total = 3000;
    const numbered = (seq: number) => {
      const f = frame(NIC_MAC, 64 + ((seq * 37) % 1400), seq);
      new DataView(f.buffer).setUint32(14, seq);
      return f;
    };
    let sent = 0;
    const received: Uint8Array[] = [];
    const pump = (async () => {
      while (sent < total) {
        for (let k = 0; k < 32 && sent < total; k++) if (nic.port.send(numbered(sent))) sent++;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const until = performance.now() + 20_000;
    while (performance.now() < until) {
      await d.bus.waitInterrupt(50);
      d.bus.read32(R.ICR);
      received.push(...d.receive());
      const s = nic.stats();
      if (sent === total && s.framesIn + s.missed === total && received.length === s.framesIn) break;
    }
    await pump;
    const s = nic.stats();
    t.is(s.framesIn + s.missed, total, 'each frame either in the ring or missed');
    t.is(received.length, s.framesIn);
    let last = -1;
    let intact = 0;
    for (const f of received) {
      const seq = new DataView(f.buffer, f.byteOffset).getUint32(14);
      if (seq > last && seq < total && Buffer.compare(f, numbered(seq)) === 0) intact++;
      last = seq;
    }
    t.is(intact, received.length, 'every frame intact, in order');
    t.log(`${s.framesIn} received, ${s.missed} missed, ${s.interrupts} interrupts`);
  });
});

test('the IOMMU: a frame gathered from DMA memory and a mapped client region; unmapped memory is a DMA error', async (t) => {
  await withNic(async (nic, logs) => {
    const d = driverFor(nic, { txCount: 16 });
    await d.bringUp();
    const got: Uint8Array[] = [];
    nic.port.setReceiver((f) => got.push(f.slice()));
    const client = new SharedArrayBuffer(3 * 4096);
    const base = await nic.mapRegion(client);
    t.true(base > nic.driverCaps.dma.base, 'above the driver memory');
    t.is(base % 4096, 0);
    const f = frame(PEER_MAC, 1000, 7);
    new Uint8Array(client).set(f.subarray(54), 5000); // the payload in the client's buffer
    const dma = d.bus.dma;
    dma.bytes.set(f.subarray(0, 54), d.txBuffers); // the header from the driver's copy
    writeTx(dma.words, d.txAt(0), dma.phys(d.txBuffers), 54, 0);
    writeTx(dma.words, d.txAt(1), base + 5000, 1000 - 54, TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS);
    d.bus.write32(R.TDT, 2);
    await eventually(() => got.length === 1);
    t.deepEqual(got[0], f);
    t.is(txStatus(dma.words, d.txAt(1)), 1);
    // Unmapped: a stale descriptor finds no memory there.
    await nic.unmapRegion(base);
    writeTx(dma.words, d.txAt(2), dma.phys(d.txBuffers), 54, 0);
    writeTx(dma.words, d.txAt(3), base + 5000, 1000 - 54, TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS);
    d.bus.write32(R.TDT, 4);
    await eventually(() => nic.stats().txDmaDropped === 1);
    t.is(got.length, 1);
    t.is(nic.stats().dmaErrors, 1);
    await eventually(() => logs.some((l) => /transmit buffer lies outside physical memory/.test(l)));
    t.true(logs.some((l) => /transmit buffer lies outside physical memory/.test(l)));
    // Bad requests are refused with a reason.
    await t.throwsAsync(nic.unmapRegion(base), { message: /nothing is mapped/ });
    await t.throwsAsync(nic.unmapRegion(nic.driverCaps.dma.base), { message: /stays mapped/ });
    await t.throwsAsync(nic.mapRegion(new SharedArrayBuffer(0)), { message: /non-empty/ });
    const again = await nic.mapRegion(client);
    t.true(again > base, 'the same memory mapped again gets a new address');
    await t.throwsAsync(nic.mapRegion(client), { message: /already mapped/ });
  });
});

test('after close: sends are dropped as closed, interrupt waiters learn the device is gone, calls are refused', async (t) => {
  const nic = await E1000Nic.start({ mac: NIC_MAC, name: 'eth7', onLog: () => {} });
  const bus = new E1000Bus(nic.driverCaps);
  const waiting = bus.waitInterrupt();
  await nic.close();
  t.is(await waiting, 'gone');
  t.false(nic.port.send(frame(NIC_MAC, 64)));
  t.is(nic.port.stats.dropped.closed, 1);
  const e = (await t.throwsAsync(nic.mapRegion(new SharedArrayBuffer(4096)))) as FishnetError;
  t.true(e.is('HW_ERR_CLOSED'));
  t.regex(e.message, /eth7/);
  await nic.close(); // twice is fine
});

test('start options are checked, each error naming its field', async (t) => {
  const bad = async (o: unknown, re: RegExp) => {
    const e = (await t.throwsAsync(E1000Nic.start(o as E1000NicOptions))) as FishnetError;
    t.true(e instanceof FishnetError && e.is('HW_ERR_BAD_OPTION') && re.test(e.message), e.message);
  };
  await bad({ mac: 'zz:00:00:00:00:01' }, /mac: bad MAC address/);
  await bad({ mac: -1 }, /mac: -1 is not a MAC address/);
  await bad({ mac: NIC_MAC, dmaBytes: 100 }, /dmaBytes: 100/);
  await bad({ mac: NIC_MAC, queueFrames: 1000 }, /queueFrames: 1000 is not a power of two/);
  await bad({ mac: NIC_MAC, physBase: 12345 }, /physBase/);
  await bad({ mac: NIC_MAC, name: '' }, /name/);
  await bad({ mac: NIC_MAC, onLog: 'x' }, /onLog/);
});

test('a sender faster than the device: the port drops with queue-full, never blocks, every frame accounted', async (t) => {
  await withNic(
    async (nic) => {
      // Receiver off: the device counts every frame it takes as rxOff.
      let accepted = 0;
      for (let i = 0; i < 2000; i++) if (nic.port.send(frame(NIC_MAC, 1500, i))) accepted++;
      const s = nic.port.stats;
      t.is(accepted + s.dropped['queue-full'], 2000);
      t.is(s.txFrames, accepted);
      await eventually(() => nic.stats().rxOff === accepted);
      t.is(nic.stats().rxOff, accepted);
      t.log(`${accepted} taken, ${s.dropped['queue-full']} dropped at the port`);
    },
    { queueFrames: 8 },
  );
});

test('the driver in an actor, spawned with driverCaps: bring-up, receive and transmit across threads', async (t) => {
  await withNic(async (nic) => {
    const rt = new Runtime({ prestart: 0 });
    try {
      const got: Uint8Array[] = [];
      nic.port.setReceiver((f) => got.push(f.slice()));
      const ref = await rt.spawn({
        module: new URL('../fixtures/hw/e1000-driver.ts', import.meta.url),
        args: nic.driverCaps,
      });
      const api = ref.api as unknown as {
        bringUp(): Promise<string>;
        receive(n: number): Promise<number[]>;
        transmit(lengths: number[]): Promise<number>;
      };
      t.is(await api.bringUp(), formatMac(NIC_MAC));
      const receiving = api.receive(3);
      for (const len of [64, 500, 1500]) nic.port.send(frame(NIC_MAC, len, len));
      t.deepEqual(await receiving, [64, 500, 1500]);
      t.is(await api.transmit([100, 200]), 2);
      await eventually(() => got.length === 2);
      t.deepEqual(
        got.map((f) => f.length),
        [100, 200],
      );
      t.deepEqual(got[0], frame(PEER_MAC, 100, 100, NIC_MAC));
    } finally {
      await rt.shutdown();
    }
  });
});

test('compiled: the NIC starts from dist/ JavaScript and a driver reads its MAC', async (t) => {
  const dist = await import(new URL('../../dist/hw/e1000/index.js', import.meta.url).href).catch(
    () => undefined,
  );
  if (!dist) return t.fail('dist/ is missing: npm test builds it first (pretest)');
  const nic = (await dist.E1000Nic.start({ mac: NIC_MAC, onLog: () => {} })) as E1000Nic;
  try {
    const d = new TinyDriver(new dist.E1000Bus(nic.driverCaps), () => sleep(1));
    await d.reset();
    t.is(formatMac(await d.readMac()), formatMac(NIC_MAC));
    d.setupRings();
    await d.linkUp();
    nic.port.send(frame(NIC_MAC, 64));
    t.is((await receiveFrames(d, 1)).length, 1);
  } finally {
    await nic.close();
  }
  t.is(DESC_BYTES, 16);
});

test('a device thread that dies is reported: logged, calls refused with HW_ERR_DEVICE_FAILED, waiters see gone', async (t) => {
  const logs: string[] = [];
  const nic = await E1000Nic.start({ mac: NIC_MAC, onLog: (m) => logs.push(m) });
  const bus = new E1000Bus(nic.driverCaps);
  const waiting = bus.waitInterrupt();
  // The thread ends without being asked to (as a crash would end it).
  await (nic as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
  t.is(await waiting, 'gone');
  t.true(logs.some((l) => /the device thread failed/.test(l)));
  const e = (await t.throwsAsync(nic.mapRegion(new SharedArrayBuffer(4096)))) as FishnetError;
  t.true(e.is('HW_ERR_DEVICE_FAILED'));
  await nic.close();
  t.false(nic.port.send(frame(NIC_MAC, 64)));
});

test('a corrupt queue from the host: the device abandons the link, counts it, and keeps serving its driver', async (t) => {
  await withNic(async (nic, logs) => {
    const d = driverFor(nic);
    await d.bringUp();
    // Move the queue's TAIL word (word 16) far past HEAD, as a broken producer would.
    const queue = (nic as unknown as { hostPort: { toDevice: { words: Int32Array } } }).hostPort.toDevice;
    Atomics.add(queue.words, 16, 100_000);
    d.bus.write32(R.ICS, 0); // any write that wakes the device
    await eventually(() => nic.stats().linkFailures === 1);
    t.is(nic.stats().linkFailures, 1);
    t.true(await eventually(() => logs.some((l) => /corrupt/.test(l))));
    t.is(formatMac(await d.readMac()), formatMac(NIC_MAC), 'registers still served');
  });
});
