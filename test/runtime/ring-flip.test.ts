// Shared memory that a peer can write is read once: a thread flips ring words while
// the reader runs, and no value the reader delivers is one its check refused.
import { Worker } from 'node:worker_threads';
import test from 'ava';
import { type EtherServer, ether } from '../../protocols/generated/ether.ts';
import { eventually, withRuntime } from '../helpers/runtime.ts';

// A thread that writes random values into one word of every slot (or into the
// producer's index) for `ms` milliseconds, as fast as it can.
const FLIPPER = `
const { workerData, parentPort } = require('node:worker_threads');
const w = new Int32Array(workerData.sab);
const capacity = w[56], slotWords = w[57];
const stop = new Int32Array(workerData.stop);
let x = 0x9e3779b9 | 0, n = 0;
const end = Date.now() + workerData.ms;
while (Date.now() < end && Atomics.load(stop, 0) === 0) {
  for (let i = 0; i < 1000; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    if (workerData.word === 'tail') w[16] = x;
    else w[64 + ((x >>> 0) % capacity) * slotWords + workerData.word] = x;
    n++;
  }
}
parentPort.postMessage(n);
`;

/** Flip for `ms` at most, or until word 0 of `stop` is set. Resolves with the number of flips. */
function flip(
  sab: SharedArrayBuffer,
  word: number | 'tail',
  ms: number,
  stop = new SharedArrayBuffer(4),
): Promise<number> {
  const worker = new Worker(FLIPPER, { eval: true, workerData: { sab, word, ms, stop } });
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  }).finally(() => worker.terminate()) as Promise<number>;
}

test('a thread flips the words of ring slots: every value delivered passed its check', (t) =>
  withRuntime(t, async (rt) => {
    let delivered = 0;
    let unchecked = 0;
    let server: EtherServer | undefined;
    rt.serve(ether, 'eth', (s) => {
      server = s;
      s.rx.transmit_packet = (_buf, _pbuf, _off, _len, nr) => {
        delivered++;
        // nr_pbufs is a uint16: a value outside it got through a check that read another copy.
        if ((nr & 0xffff) !== nr) unchecked++;
      };
    });
    const c = await rt.connect(ether, 'eth', { transport: 'shm' });
    const ring = (c as unknown as { w: Int32Array }).w.buffer as SharedArrayBuffer;
    // Word 6 of a transmit_packet slot is nr_pbufs. Flip while sending, until the
    // reader has refused some flips (however busy this machine is), 10 s at most.
    const stop = new SharedArrayBuffer(4);
    const flipping = flip(ring, 6, 10_000, stop);
    const dropped = () => server!.stats.malformedBy['ether.transmit_packet: arguments'] ?? 0;
    let sent = 0;
    const started = Date.now();
    while ((dropped() < 10 || Date.now() - started < 300) && Date.now() - started < 10_000) {
      for (let i = 0; i < 256; i++) {
        while (!c.tx.transmit_packet(1, i, 64, 60, 1)) await c.writable();
        sent++;
      }
      await new Promise((r) => setImmediate(r));
    }
    Atomics.store(new Int32Array(stop), 0, 1);
    c.flush();
    const flips = await flipping;
    t.log(`the thread flipped ${flips} words while ${sent} slots went through`);
    // Every slot is either delivered or dropped as malformed: none lost, none thrown on.
    t.true(await eventually(() => delivered + dropped() === sent), `${delivered} + ${dropped()} of ${sent}`);
    t.is(unchecked, 0, 'no delivered nr_pbufs outside uint16');
    t.true(dropped() >= 10, 'the flips were seen and refused');
    t.true(server!.isOpen);
  }));

test('a thread flips the producer index: the reader ends the binding, counted, never throws', (t) =>
  withRuntime(t, async (rt) => {
    let server: EtherServer | undefined;
    rt.serve(ether, 'eth', (s) => {
      server = s;
      s.rx.transmit_packet = () => {};
    });
    const c = await rt.connect(ether, 'eth', { transport: 'shm' });
    const ring = (c as unknown as { w: Int32Array }).w.buffer as SharedArrayBuffer;
    // Flip until the reader has seen it (however busy this machine is), 10 s at most.
    const stop = new SharedArrayBuffer(4);
    const flipping = flip(ring, 'tail', 10_000, stop);
    while (c.isOpen && server?.isOpen !== false) {
      try {
        c.tx.transmit_packet(1, 2, 3, 4, 1);
      } catch {
        break; // the binding ended under us: what we want to see
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    Atomics.store(new Int32Array(stop), 0, 1);
    await flipping;
    t.true(await eventually(() => server !== undefined && !server.isOpen), 'the server ended the binding');
    t.true((server!.stats.malformedBy['ring indices corrupted'] ?? 0) >= 1);
  }));
