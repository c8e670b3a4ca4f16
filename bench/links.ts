// Links benchmark: frames per second through the virtual switch between two cables
// (and the switch alone, between two synchronous ports), through a VXLAN tunnel on
// loopback (both ends in this process), and into a pcap tap. Each figure is the
// median of ROUNDS rounds with the worst and best; minor GCs per million frames
// show what a path allocates. JSON on stdout; also written to bench/results/links.json.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { EtherType, type Mac, mac, writeEthernet } from '../lib/net/index.ts';
import {
  cable,
  emptyStats,
  type FramePort,
  type FrameReceiver,
  pcapTap,
  VirtualSwitch,
  VxlanPort,
} from '../lib/phy/index.ts';
import { writeResult } from './stats.ts';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 7;
const ROUND_MS = quick ? 200 : 600;
const M0 = mac('02:00:00:00:00:01');
const M1 = mac('02:00:00:00:00:02');

function frame(dst: Mac, src: Mac, len: number): Uint8Array {
  const b = new Uint8Array(len);
  writeEthernet(b, 0, { dst, src, ethertype: EtherType.IPV4 });
  return b;
}

let minorGcs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === 1) minorGcs++;
  }
}).observe({ entryTypes: ['gc'] });

interface Rate {
  /** Frames per second: median of the rounds, and the spread. */
  median: number;
  worst: number;
  best: number;
  /** Minor (scavenge) GCs per million frames over all rounds. */
  minorGcPerMillion: number;
}

/** Run `round` (which returns the frames it moved in about ms) ROUNDS times after a warm-up. */
async function measure(round: (ms: number) => Promise<number> | number): Promise<Rate> {
  await round(ROUND_MS / 2);
  const rates: number[] = [];
  let frames = 0;
  const gc0 = minorGcs;
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    const n = await round(ROUND_MS);
    frames += n;
    rates.push((n * 1000) / (performance.now() - t0));
  }
  // GC entries are delivered asynchronously.
  await new Promise((r) => setTimeout(r, 50));
  rates.sort((a, b) => a - b);
  return {
    median: Math.round(rates[rates.length >> 1]!),
    worst: Math.round(rates[0]!),
    best: Math.round(rates[rates.length - 1]!),
    minorGcPerMillion: Math.round(((minorGcs - gc0) * 1e6) / frames),
  };
}

/** Host 0 → cable → switch → cable → host 1, a full queue's worth per turn. */
async function switchOverCables(len: number) {
  const CAP = 512;
  const sw = new VirtualSwitch();
  const [h0, s0] = cable({ capacity: CAP });
  const [h1, s1] = cable({ capacity: CAP });
  sw.attach(s0);
  sw.attach(s1);
  let received = 0;
  h1.setReceiver(() => {
    received++;
  });
  h0.setReceiver(() => {});
  h1.send(frame(M0, M1, len)); // teach the switch where M1 is
  await nextTurn();
  await nextTurn();
  const f = frame(M1, M0, len);
  const rate = await measure(async (ms) => {
    const start = received;
    const t0 = performance.now();
    while (performance.now() - t0 < ms) {
      while (h0.inFlight < CAP) h0.send(f);
      await nextTurn();
    }
    return received - start;
  });
  const refused = s1.stats.dropped['queue-full'] + h0.stats.dropped['queue-full'];
  const st = sw.stats;
  await h0.close();
  await h1.close();
  return { ...rate, forwarded: st.forwarded, flooded: st.flooded, refused };
}

/** A port that hands each frame straight to its receiver (no queue): the switch's own cost. */
class DirectPort implements FramePort {
  readonly stats = emptyStats();
  rx: FrameReceiver | undefined;
  constructor(readonly name: string) {}
  send(frame: Uint8Array): boolean {
    this.stats.txFrames++;
    this.stats.txBytes += frame.length;
    return true;
  }
  setReceiver(rx: FrameReceiver | undefined): void {
    this.rx = rx;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function switchAlone(len: number) {
  const sw = new VirtualSwitch();
  const p0 = new DirectPort('p0');
  const p1 = new DirectPort('p1');
  sw.attach(p0);
  sw.attach(p1);
  p1.rx!(frame(M0, M1, len));
  const f = frame(M1, M0, len);
  const rate = await measure(async (ms) => {
    const start = p1.stats.txFrames;
    const t0 = performance.now();
    const rx = p0.rx!;
    while (performance.now() - t0 < ms) {
      for (let i = 0; i < 10_000; i++) rx(f);
      await nextTurn(); // a new turn: the switch reads its clock once per turn
    }
    return p1.stats.txFrames - start;
  });
  return { ...rate, nsPerFrame: Math.round((1e9 / rate.median) * 10) / 10 };
}

/** a → UDP on 127.0.0.1 → b, at most WINDOW frames unanswered (the socket buffers stay unfilled). */
async function vxlanLoopback(len: number) {
  const WINDOW = 64;
  const a = await VxlanPort.open({
    vni: 1,
    remoteAddress: '127.0.0.1',
    localAddress: '127.0.0.1',
    localPort: 0,
    sendBuffers: WINDOW,
  });
  const b = await VxlanPort.open({
    vni: 1,
    remoteAddress: '127.0.0.1',
    remotePort: a.localPort,
    localAddress: '127.0.0.1',
    localPort: 0,
  });
  a.setRemote('127.0.0.1', b.localPort);
  let received = 0;
  b.setReceiver(() => {
    received++;
  });
  let sent = 0;
  let lost = 0;
  const f = frame(M1, M0, len);
  const rate = await measure(async (ms) => {
    const start = received;
    const t0 = performance.now();
    let progress = performance.now();
    let last = received;
    while (performance.now() - t0 < ms) {
      while (sent - received - lost < WINDOW && a.send(f)) sent++;
      await nextTurn();
      if (received !== last) {
        last = received;
        progress = performance.now();
      } else if (performance.now() - progress > 20) {
        lost = sent - received; // nothing for 20 ms: what is outstanding was dropped by a socket buffer
        progress = performance.now();
      }
    }
    return received - start;
  });
  await new Promise((r) => setTimeout(r, 50));
  const result = {
    ...rate,
    mbitPerSecond: Math.round((rate.median * len * 8) / 1e6),
    sent,
    received,
    lostInSocketBuffers: sent - received,
    senderRefused: a.stats.dropped['queue-full'],
  };
  await Promise.all([a.close(), b.close()]);
  return result;
}

/**
 * Frames sent through a pcap tap on a port that takes everything, into a file under
 * the temp directory, 1000 a turn; when the disk falls behind (records dropped), the
 * sender waits for the writes. The rate counts records captured.
 */
async function tapToFile(len: number) {
  const dir = mkdtempSync(join(tmpdir(), 'fishnet-bench-'));
  try {
    const tap = pcapTap(new DirectPort('sink'), join(dir, 'bench.pcap'));
    const f = frame(M1, M0, len);
    const rate = await measure(async (ms) => {
      const start = tap.file.stats.records;
      const t0 = performance.now();
      while (performance.now() - t0 < ms) {
        const dropped = tap.file.stats.dropped;
        for (let i = 0; i < 1000; i++) tap.send(f);
        // The disk fell behind (every chunk full): wait for it, as a capture that must not drop would.
        if (tap.file.stats.dropped > dropped) await tap.file.flush();
        else await nextTurn();
      }
      return tap.file.stats.records - start;
    });
    const offered = tap.stats.txFrames;
    await tap.close();
    return {
      ...rate,
      mbytePerSecond: Math.round((rate.median * (len + 16)) / 1e6),
      captureDropped: tap.file.stats.dropped,
      offered,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function linksBench(): Promise<unknown> {
  const result = {
    units: 'frames/s (median of rounds, worst, best); minor GCs per million frames',
    rounds: ROUNDS,
    roundMs: ROUND_MS,
    switchOverCables: { f60: await switchOverCables(60), f1514: await switchOverCables(1514) },
    switchAlone: { f60: await switchAlone(60) },
    vxlanLoopback: { f60: await vxlanLoopback(60), f1514: await vxlanLoopback(1514) },
    pcapTap: { f60: await tapToFile(60), f1514: await tapToFile(1514) },
  };
  process.stderr.write(`wrote ${writeResult('links', result)}\n`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await linksBench(), null, 2));
  process.exit(0); // the GC observer would keep the process alive
}
