// A thread for the doorbell test: a producer that publishes work and rings, or the
// consumer that drains and sleeps. Loaded as a bundle (see doorbell.test.ts).
import { Doorbell } from '../../lib/shm/doorbell.ts';

export interface Job {
  role: 'producer' | 'consumer';
  sab: SharedArrayBuffer;
  items: number;
  seed: number;
}

// Words: 0-1 the doorbell, 8 work published, 9 work consumed, 10 lost wake-ups, 11 waits,
// 12 announcements (prepare).
export default function run(job: Job): { rings: number } {
  const w = new Int32Array(job.sab);
  const bell = new Doorbell(w, 0);
  let x = job.seed || 1;
  const rand = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  if (job.role === 'producer') {
    for (let i = 0; i < job.items; i++) {
      Atomics.add(w, 8, 1);
      bell.ring();
      // Now and then pause, so that the consumer falls asleep between items.
      if (rand() < 0.05) {
        const until = performance.now() + rand() * 0.2;
        while (performance.now() < until) {}
      }
    }
    return { rings: bell.notifies };
  }
  let consumed = 0;
  while (consumed < job.items) {
    const got = Atomics.exchange(w, 8, 0);
    if (got > 0) {
      consumed += got;
      continue;
    }
    const seq = bell.prepare();
    Atomics.add(w, 12, 1);
    if (Atomics.load(w, 8) !== 0) {
      bell.cancel();
      continue;
    }
    Atomics.add(w, 11, 1);
    // No producer rings after it has published everything: a wait that times out with
    // work published is a lost wake-up.
    if (bell.wait(seq, 2000) === 'timed-out' && Atomics.load(w, 8) !== 0) Atomics.add(w, 10, 1);
  }
  Atomics.store(w, 9, consumed);
  return { rings: 0 };
}
