// A UDP traffic generator and sink on a machine's network, through lib/lwip's
// node:dgram-shaped sockets, with counters and rates in its management API.
//
//   { machine, sink: { port } }                       counts what arrives
//   { machine, generate: { address, port, size, rate?, count?, durationMs?, flow? } }
//
// Each datagram carries a header: magic 'FNTG', a flow number and a sequence number
// (big-endian u32 each), then padding to `size` bytes. The sink keeps, per flow,
// what it received, how much went missing (gaps in the sequence), what came late
// (reordered: a gap filled) and what came twice, over a window of 4096 sequence
// numbers. The generator sends at `rate` datagrams a second, or as fast as the
// stack takes them (rate 0 or absent): when every transmit slot is busy it waits on
// net.txReady() rather than fail, so what it counts as sent did leave the stack.
// What comes back to the generator's port (pointed at an echo server) is counted as
// replies; datagrams of 20 bytes or more carry their send time, for round trips.
// The first datagram is sent alone and waited for (its next hop resolved by ARP).
import { open } from '../../lib/lwip/index.ts';
import { defineActor } from '../../runtime/index.ts';

export const MAGIC = 0x464e_5447; // 'FNTG'
export const HEADER = 12;
const WINDOW = 4096;

export interface GenerateSpec {
  readonly address: string;
  readonly port: number;
  /** Datagram size in bytes, HEADER..65507 (default 64). */
  readonly size?: number;
  /** Datagrams a second; 0 or absent: as fast as the stack takes them. */
  readonly rate?: number;
  /** Stop after this many datagrams, or after durationMs (default: when stop() is called). */
  readonly count?: number;
  readonly durationMs?: number;
  /** The flow number written into each datagram (default 1). */
  readonly flow?: number;
}

export interface UdpTrafficArgs {
  readonly machine: string;
  readonly sink?: { readonly port: number };
  readonly generate?: GenerateSpec;
  readonly timeoutMs?: number;
  /** Receive pbufs (default 256): more ride out longer stalls of a busy machine. */
  readonly rxPbufs?: number;
}

interface Flow {
  received: number;
  bytes: number;
  /** The highest sequence number seen, plus one. */
  next: number;
  lost: number;
  reordered: number;
  duplicates: number;
  /** Older than the window: cannot be told from a duplicate. */
  tooLate: number;
  readonly seen: Uint8Array;
  firstAt: number;
  lastAt: number;
}

export default defineActor(async (ctx, args: UdpTrafficArgs) => {
  if (!args?.sink && !args?.generate) throw new TypeError('udp-traffic: give `sink` or `generate` (or both)');
  const net = await open(ctx, {
    machine: args.machine,
    timeoutMs: args.timeoutMs ?? 5000,
    rxPbufs: args.rxPbufs,
  });
  ctx.onShutdown(() => net.close());

  // ---- the sink ------------------------------------------------------------------------
  const flows = new Map<number, Flow>();
  const sinkTotals = { received: 0, bytes: 0, foreign: 0 };
  let sinkPort = 0;
  if (args.sink) {
    const s = net.dgram.createSocket({ type: 'udp4', zeroCopy: true });
    s.on('message', (msg) => {
      const now = performance.now();
      if (msg.length < HEADER || msg.readUInt32BE(0) !== MAGIC) {
        sinkTotals.foreign++;
        return;
      }
      sinkTotals.received++;
      sinkTotals.bytes += msg.length;
      const id = msg.readUInt32BE(4);
      const seq = msg.readUInt32BE(8);
      let f = flows.get(id);
      if (f === undefined) {
        f = {
          received: 0,
          bytes: 0,
          next: 0,
          lost: 0,
          reordered: 0,
          duplicates: 0,
          tooLate: 0,
          seen: new Uint8Array(WINDOW),
          firstAt: now,
          lastAt: now,
        };
        flows.set(id, f);
      }
      f.lastAt = now;
      if (seq >= f.next) {
        const gap = seq - f.next;
        f.lost += gap;
        if (gap >= WINDOW) f.seen.fill(0);
        else for (let k = f.next; k < seq; k++) f.seen[k % WINDOW] = 0;
        f.seen[seq % WINDOW] = 1;
        f.next = seq + 1;
      } else if (f.next - seq > WINDOW) {
        f.tooLate++;
        return;
      } else if (f.seen[seq % WINDOW]) {
        f.duplicates++;
        return;
      } else {
        f.seen[seq % WINDOW] = 1;
        f.lost--;
        f.reordered++;
      }
      f.received++;
      f.bytes += msg.length;
    });
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(args.sink!.port, () => {
        s.off('error', reject);
        resolve();
      });
    });
    sinkPort = s.address().port;
  }

  // ---- the generator -----------------------------------------------------------------
  const gen = {
    running: false,
    sent: 0,
    bytes: 0,
    /** Times every transmit slot was busy and it waited. */
    waitedForSlots: 0,
    startedAt: 0,
    endedAt: 0,
  };
  const socket = net.dgram.createSocket({ type: 'udp4', zeroCopy: true });
  // What comes back to the generator's port (from an echo server): counted, and with
  // the send time it carries (bytes 12..19, when the datagram is that long), a round trip.
  const RTT_SAMPLES = 1 << 16;
  const rtt = new Float64Array(RTT_SAMPLES);
  const replies = { received: 0, rttSamples: 0 };
  socket.on('message', (msg) => {
    if (msg.length < HEADER || msg.readUInt32BE(0) !== MAGIC) return;
    replies.received++;
    if (msg.length >= HEADER + 8)
      rtt[replies.rttSamples++ % RTT_SAMPLES] = performance.now() - msg.readDoubleBE(HEADER);
  });
  // Bound first (a port from netd), so that the first datagram does not wait for it.
  let bound: Promise<void> | undefined;
  const ensureBound = () =>
    (bound ??= new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        resolve();
      });
    }));
  let run: Promise<void> | undefined;
  let stopWanted = false;

  const generate = async (spec: GenerateSpec) => {
    const size = spec.size ?? 64;
    if (!(Number.isInteger(size) && size >= HEADER && size <= 65507))
      throw new RangeError(`udp-traffic: size ${size} is not ${HEADER}..65507`);
    const rate = spec.rate ?? 0;
    const buf = Buffer.alloc(size);
    buf.writeUInt32BE(MAGIC, 0);
    buf.writeUInt32BE(spec.flow ?? 1, 4);
    const frames = net.stack.framesFor(8 + size);
    const start = performance.now();
    gen.startedAt = start;
    gen.endedAt = 0;
    let seq = 0;
    const more = () =>
      !stopWanted &&
      (spec.count === undefined || seq < spec.count) &&
      (spec.durationMs === undefined || performance.now() - start < spec.durationMs);
    while (more()) {
      if (rate > 0) {
        // Send what is due by now, then sleep a millisecond.
        const due = Math.floor(((performance.now() - start) * rate) / 1000) + 1;
        if (seq >= due) {
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
      }
      if (net.txAvailable() < frames) {
        gen.waitedForSlots++;
        await net.txReady();
        continue;
      }
      buf.writeUInt32BE(seq, 8);
      if (size >= HEADER + 8) buf.writeDoubleBE(performance.now(), HEADER);
      // To an address literal: copied into its slot now, so buf is ours again at once.
      // The first one is waited for: its next hop's ARP answer comes before the rest,
      // which would otherwise pile up in the stack's bounded ARP queue.
      if (seq === 0) await new Promise<unknown>((r) => socket.send(buf, spec.port, spec.address, r));
      else socket.send(buf, spec.port, spec.address);
      seq++;
      gen.sent++;
      gen.bytes += size;
      // Let the driver's tx_done and our own receive path in now and then.
      if ((seq & 63) === 0) await new Promise((r) => setImmediate(r));
    }
    gen.endedAt = performance.now();
  };

  const start = (spec: GenerateSpec) => {
    if (gen.running) throw new Error('udp-traffic: already generating');
    gen.running = true;
    stopWanted = false;
    run = generate(spec).finally(() => {
      gen.running = false;
    });
    return run;
  };
  if (args.generate) {
    await ensureBound();
    void start(args.generate).catch(() => {});
  }

  /** Round trips in µs: p50 and p99 of the last samples (null when there are none). */
  const percentiles = (samples: Float64Array) => {
    if (samples.length === 0) return null;
    const sorted = Float64Array.from(samples).sort();
    const at = (q: number) =>
      Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 1000);
    return { p50: at(0.5), p99: at(0.99), samples: samples.length };
  };

  const rates = (count: number, bytes: number, ms: number) => ({
    perSecond: ms > 0 ? (count * 1000) / ms : 0,
    mbitPerSecond: ms > 0 ? (bytes * 8) / 1000 / ms : 0,
  });

  return {
    sinkPort: () => sinkPort,
    /** Start generating (when not given at spawn); resolves when it is done. */
    generate: async (spec: GenerateSpec) => {
      await ensureBound();
      await start(spec);
      return true;
    },
    /** Stop generating; resolves when the generator has stopped. */
    stop: async () => {
      stopWanted = true;
      await run?.catch(() => {});
      return true;
    },
    /** Resolves when the generator is done. */
    done: async () => {
      await run?.catch(() => {});
      return true;
    },
    counters: () => {
      const now = performance.now();
      const genMs = (gen.endedAt || now) - gen.startedAt;
      const st = socket.stats();
      return {
        generator: {
          running: gen.running,
          sent: gen.sent,
          bytes: gen.bytes,
          sendErrors: st.sendErrors,
          waitedForSlots: gen.waitedForSlots,
          replies: replies.received,
          rttUs: percentiles(rtt.subarray(0, Math.min(replies.rttSamples, RTT_SAMPLES))),
          elapsedMs: gen.startedAt ? genMs : 0,
          ...rates(gen.sent, gen.bytes, gen.startedAt ? genMs : 0),
        },
        sink: {
          ...sinkTotals,
          flows: [...flows].map(([flow, f]) => ({
            flow,
            received: f.received,
            bytes: f.bytes,
            lost: f.lost,
            reordered: f.reordered,
            duplicates: f.duplicates,
            tooLate: f.tooLate,
            highest: f.next - 1,
            elapsedMs: f.lastAt - f.firstAt,
            ...rates(f.received, f.bytes, f.lastAt - f.firstAt),
          })),
        },
      };
    },
    stats: () => net.stats(),
  };
});
