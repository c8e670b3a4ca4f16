// Frame queues: frames in and out whole, full means false, hostile lengths and indices.
import test from 'ava';
import fc from 'fast-check';
import {
  createFrameQueue,
  FRAME_MALFORMED,
  FrameQueueReader,
  FrameQueueWriter,
  frameSlotWords,
  QUEUE_CORRUPT,
  QUEUE_EMPTY,
} from '../../lib/shm/frames.ts';

const MAX = 1518;

function drain(r: FrameQueueReader): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let len = r.front(); len !== QUEUE_EMPTY; len = r.front()) {
    if (len < 0) throw new Error(`front() = ${len}`);
    out.push(r.bytes.slice(r.frameOffset, r.frameOffset + len));
    r.advance();
  }
  r.release();
  return out;
}

test('frames go in and come out whole and in order, across the wrap; a full queue refuses', (t) => {
  const sab = createFrameQueue(8, MAX);
  const wr = new FrameQueueWriter(sab, MAX);
  const rd = new FrameQueueReader(sab, MAX);
  const sent: Uint8Array[] = [];
  const got: Uint8Array[] = [];
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 6; i++) {
      const f = Uint8Array.from({ length: 1 + ((round * 97 + i * 251) % MAX) }, (_, k) => k + i + round);
      t.true(wr.push(f));
      sent.push(f);
    }
    t.is(rd.front(), QUEUE_EMPTY, 'not published yet');
    wr.flush();
    got.push(...drain(rd));
  }
  t.deepEqual(got, sent);
  for (let i = 0; i < 8; i++) t.true(wr.push(new Uint8Array(10)));
  t.false(wr.push(new Uint8Array(10)), 'full');
  wr.publish();
  t.is(drain(rd).length, 8);
  t.true(wr.push(new Uint8Array(10)));
});

test('reserve and commit write a frame in place; commit checks the length', (t) => {
  const sab = createFrameQueue(4, MAX);
  const wr = new FrameQueueWriter(sab, MAX);
  const rd = new FrameQueueReader(sab, MAX);
  const at = wr.reserve();
  wr.bytes.fill(7, at, at + 100);
  t.throws(() => wr.commit(0), { message: /a frame is 1\.\.1518 bytes/ });
  t.throws(() => wr.commit(MAX + 1), { message: /a frame is 1\.\.1518 bytes/ });
  wr.commit(100);
  t.throws(() => wr.commit(100), { message: /without a reserved slot/ });
  wr.flush();
  t.deepEqual(drain(rd), [new Uint8Array(100).fill(7)]);
  t.throws(() => createFrameQueue(4, 0), { message: /1\.\.16384 bytes/ });
});

test('a hostile length word is read once and refused; impossible indices mark the queue corrupt', (t) => {
  const sab = createFrameQueue(4, MAX);
  const wr = new FrameQueueWriter(sab, MAX);
  const rd = new FrameQueueReader(sab, MAX);
  const w = new Int32Array(sab);
  for (const bad of [0, -1, MAX + 1, 0x7fff_ffff]) {
    t.true(wr.push(new Uint8Array(20)));
    wr.publish();
    t.is(rd.front(), 20);
    w[rd.frameOffset / 4 - 1] = bad; // the producer rewrites the length after publishing
    t.is(rd.front(), FRAME_MALFORMED, `length ${bad}`);
    rd.advance();
    rd.release();
  }
  // TAIL far ahead of HEAD: more frames than the ring holds.
  w[16] = w[0]! + 5;
  t.is(rd.front(), QUEUE_CORRUPT);
  w[16] = w[0]! - 1;
  t.is(rd.front(), QUEUE_CORRUPT);
  t.is(frameSlotWords(MAX), 1 + 380);
});

test('property: any sequence of pushes and drains delivers exactly what was pushed, in order', (t) => {
  const prop = fc.property(
    fc.array(fc.oneof(fc.integer({ min: 1, max: MAX }), fc.constant(-1)), { maxLength: 200 }),
    (ops) => {
      const sab = createFrameQueue(16, MAX);
      const wr = new FrameQueueWriter(sab, MAX);
      const rd = new FrameQueueReader(sab, MAX);
      const expect: number[] = [];
      const got: number[] = [];
      let n = 0;
      for (const op of ops) {
        if (op < 0) {
          wr.publish();
          for (const f of drain(rd)) got.push(f.length * 1000 + f[0]!);
        } else if (wr.push(new Uint8Array(op).fill(n & 0xff))) {
          expect.push(op * 1000 + (n & 0xff));
          n++;
        } else if (expect.length - got.length < 16) return false; // refused with room
      }
      wr.publish();
      for (const f of drain(rd)) got.push(f.length * 1000 + f[0]!);
      return JSON.stringify(got) === JSON.stringify(expect);
    },
  );
  t.notThrows(() => fc.assert(prop, { seed: 3, numRuns: 300 }));
});
