// The fault injector: a middleware that makes a link unreliable on purpose, with
// decisions from a seeded generator so that a failing run can be run again.
//
// For each frame in a faulty direction, five uniform draws decide, with the rates
// given, whether it is dropped, corrupted (one byte XORed with a random non-zero
// mask), duplicated (sent twice in a row), delayed (held delayMs, then sent) or
// reordered (held until the next frame in its direction has gone, then sent; if no
// frame comes within reorderMs it goes alone). Every frame consumes the same five
// draws, so changing one rate does not change which frames the others hit; the
// detail of a corruption comes from a second generator. Each direction has its own
// generators (seeded from the one seed), so what happens to frames sent does not
// depend on how they interleave with frames received.
//
// Held frames are copied into preallocated slots (maxHeld per direction, 'queue-full'
// beyond); one timer serves both directions and is cleared on close.

import { FrameRing } from './frame-ring.ts';
import { checkOptions, checkPort, choiceOption, numberOption, stringOption } from './options.ts';
import { emptyStats, type FramePort, type FrameReceiver, MAX_FRAME, type PortStats } from './port.ts';
import { Prng } from './prng.ts';

export type FaultDirection = 'tx' | 'rx' | 'both';

export interface FaultOptions {
  /** Seeds the decisions: an integer in 0..2^32-1. */
  readonly seed: number;
  /** Rates in [0, 1]; default 0 (that fault never happens). */
  readonly drop?: number;
  readonly duplicate?: number;
  readonly corrupt?: number;
  readonly reorder?: number;
  readonly delay?: number;
  /** How long a delayed frame is held. Default 10 ms. */
  readonly delayMs?: number;
  /** How long a frame held for reordering waits for the next one. Default 10 ms. */
  readonly reorderMs?: number;
  /** Which frames suffer: 'tx' (sent through the injector), 'rx' (received from the inner port) or 'both' (default). */
  readonly direction?: FaultDirection;
  /** Frames held (delayed or reordered) per direction at most. Default 256. */
  readonly maxHeld?: number;
  /** The longest frame that can be held, in bytes (longer ones that should be held are dropped, 'bad-length'). Default 1518. */
  readonly maxFrame?: number;
  /** Default `${inner.name}+faults`. */
  readonly name?: string;
}

export interface FaultCounts {
  dropped: number;
  /** Frames sent twice. */
  duplicated: number;
  corrupted: number;
  /** Frames swapped with the next (one held that timed out alone is not counted). */
  reordered: number;
  delayed: number;
}

export interface FaultStats extends PortStats {
  /** Faults injected, per direction. */
  readonly faults: { readonly tx: FaultCounts; readonly rx: FaultCounts };
}

const OPTIONS = [
  'seed',
  'drop',
  'duplicate',
  'corrupt',
  'reorder',
  'delay',
  'delayMs',
  'reorderMs',
  'direction',
  'maxHeld',
  'maxFrame',
  'name',
] as const;
const WHERE = 'faultInjector';

interface Rates {
  readonly drop: number;
  readonly duplicate: number;
  readonly corrupt: number;
  readonly reorder: number;
  readonly delay: number;
  readonly delayMs: number;
  readonly reorderMs: number;
  readonly maxHeld: number;
  readonly maxFrame: number;
}

const zeroCounts = (): FaultCounts => ({ dropped: 0, duplicated: 0, corrupted: 0, reordered: 0, delayed: 0 });

/** One direction of the injector: its generators, its held frames, where its frames go. */
class Lane {
  private readonly decide: Prng;
  private readonly detail: Prng;
  private readonly delayed: FrameRing | undefined;
  private readonly held: FrameRing | undefined;
  private scratch = new Uint8Array(0);
  private scratchView = new Uint8Array(0);

  constructor(
    private readonly r: Rates,
    private readonly stats: PortStats,
    readonly counts: FaultCounts,
    seed: number,
    /** Hands a frame on (to the inner port, or to the receiver); counts it. */
    private readonly emit: (frame: Uint8Array) => void,
    private readonly clock: () => number,
  ) {
    this.decide = new Prng(seed);
    this.detail = new Prng((seed ^ 0x5bd1e995) >>> 0);
    // No memory for faults that cannot happen.
    if (r.delay > 0) this.delayed = new FrameRing(r.maxHeld, r.maxFrame);
    if (r.reorder > 0) this.held = new FrameRing(1, r.maxFrame);
  }

  /** Frames held now. */
  get holding(): number {
    return (this.delayed?.size ?? 0) + (this.held?.size ?? 0);
  }

  /** Returns false when the frame is dropped here (and counted). */
  pass(f: Uint8Array): boolean {
    const r = this.r;
    const p = this.decide;
    const uDrop = p.next();
    const uCorrupt = p.next();
    const uDuplicate = p.next();
    const uDelay = p.next();
    const uReorder = p.next();
    if (uDrop < r.drop) {
      this.counts.dropped++;
      this.stats.dropped.injected++;
      return false;
    }
    let frame = f;
    if (uCorrupt < r.corrupt && f.length > 0) {
      frame = this.corrupt(f);
      this.counts.corrupted++;
    }
    const copies = uDuplicate < r.duplicate ? 2 : 1;
    if (copies === 2) this.counts.duplicated++;
    if (uDelay < r.delay) {
      const due = this.clock() + r.delayMs;
      let held = 0;
      for (let i = 0; i < copies; i++) if (this.hold(this.delayed!, frame, due)) held++;
      if (held === 0) return false;
      this.counts.delayed++;
      return true;
    }
    if (uReorder < r.reorder && this.held!.size === 0) {
      if (!this.hold(this.held!, frame, this.clock() + r.reorderMs)) return false;
      // A duplicate goes now; the held copy waits for the next frame.
      if (copies === 2) this.emit(frame);
      return true;
    }
    this.emit(frame);
    if (copies === 2) this.emit(frame);
    this.afterPass();
    return true;
  }

  /** The earliest time a held frame is due, or Infinity. */
  nextDue(): number {
    let t = Number.POSITIVE_INFINITY;
    if (this.delayed !== undefined && this.delayed.size > 0) t = this.delayed.peekStamp();
    if (this.held !== undefined && this.held.size > 0) t = Math.min(t, this.held.peekStamp());
    return t;
  }

  /** Send what is due at `now`. */
  release(now: number): void {
    const d = this.delayed;
    // Delayed frames are due in the order they were held (one delay for all).
    while (d !== undefined && d.size > 0 && d.peekStamp() <= now) {
      const f = d.peek();
      try {
        this.emit(f);
      } finally {
        d.shift();
      }
      this.afterPass();
    }
    const h = this.held;
    if (h !== undefined && h.size > 0 && h.peekStamp() <= now) this.flushHeld();
  }

  /** Forget every held frame; returns how many. */
  discard(): number {
    return (this.delayed?.clear() ?? 0) + (this.held?.clear() ?? 0);
  }

  /** A frame has passed: the frame held for reordering (if any) goes after it, and they are swapped. */
  private afterPass(): void {
    if (this.held !== undefined && this.held.size > 0) {
      this.counts.reordered++;
      this.flushHeld();
    }
  }

  private flushHeld(): void {
    const h = this.held!;
    const f = h.peek();
    try {
      this.emit(f);
    } finally {
      h.shift();
    }
  }

  private hold(ring: FrameRing, f: Uint8Array, due: number): boolean {
    if (f.length > ring.slotSize) {
      this.stats.dropped['bad-length']++;
      return false;
    }
    if (!ring.push(f, due)) {
      this.stats.dropped['queue-full']++;
      return false;
    }
    return true;
  }

  /** A copy of f with one byte XORed by a non-zero mask: the caller's bytes are never touched. */
  private corrupt(f: Uint8Array): Uint8Array {
    const n = f.length;
    if (this.scratch.length < n) this.scratch = new Uint8Array(Math.max(n, MAX_FRAME));
    if (this.scratchView.length !== n) this.scratchView = this.scratch.subarray(0, n);
    const v = this.scratchView;
    v.set(f);
    v[this.detail.below(n)]! ^= 1 + this.detail.below(255);
    return v;
  }
}

/**
 * A fault injector's stats count what it passed on (txFrames: accepted by the inner
 * port, which counts its own refusals; rxFrames: handed to the receiver), what it
 * dropped on purpose ('injected'), held frames it had no room for ('queue-full',
 * 'bad-length'), and frames lost at close or for want of a receiver ('closed').
 */
export class FaultInjector implements FramePort {
  readonly name: string;
  readonly stats: FaultStats;
  readonly direction: FaultDirection;
  private readonly tx: Lane | undefined;
  private readonly rx: Lane | undefined;
  private receiver: FrameReceiver | undefined;
  private closing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Number.POSITIVE_INFINITY;
  private readonly clock = () => performance.now();
  private readonly sendOn = (f: Uint8Array) => {
    if (this.inner.send(f)) {
      this.stats.txFrames++;
      this.stats.txBytes += f.length;
    }
  };
  private readonly deliver = (f: Uint8Array) => {
    const rx = this.receiver;
    if (rx === undefined) {
      this.stats.dropped.closed++;
      return;
    }
    this.stats.rxFrames++;
    this.stats.rxBytes += f.length;
    rx(f);
  };
  private readonly onTimer = () => {
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
    const now = this.clock();
    try {
      this.tx?.release(now);
      this.rx?.release(now);
    } finally {
      this.arm();
    }
  };

  constructor(
    readonly inner: FramePort,
    options: FaultOptions,
  ) {
    checkPort(WHERE, 'inner', inner);
    if (options === undefined) throw new TypeError(`${WHERE}: options are required (at least a seed)`);
    const o = checkOptions(WHERE, options, OPTIONS);
    const seed = numberOption(WHERE, 'seed', o.seed, { min: 0, max: 0xffff_ffff, integer: true });
    const rate = (name: string) => numberOption(WHERE, name, o[name], { min: 0, max: 1 }, 0);
    const ms = (name: string) => numberOption(WHERE, name, o[name], { min: 0, max: 2 ** 31 - 1 }, 10);
    const rates: Rates = {
      drop: rate('drop'),
      duplicate: rate('duplicate'),
      corrupt: rate('corrupt'),
      reorder: rate('reorder'),
      delay: rate('delay'),
      delayMs: ms('delayMs'),
      reorderMs: ms('reorderMs'),
      maxHeld: numberOption(WHERE, 'maxHeld', o.maxHeld, { min: 1, max: 65536, integer: true }, 256),
      maxFrame: numberOption(WHERE, 'maxFrame', o.maxFrame, { min: 1, max: 65535, integer: true }, MAX_FRAME),
    };
    this.direction = choiceOption(WHERE, 'direction', o.direction, ['tx', 'rx', 'both'] as const, 'both');
    this.name = stringOption(WHERE, 'name', o.name, `${inner.name}+faults`);
    this.stats = { ...emptyStats(), faults: { tx: zeroCounts(), rx: zeroCounts() } };
    const { tx, rx } = this.stats.faults;
    if (this.direction !== 'rx') this.tx = new Lane(rates, this.stats, tx, seed, this.sendOn, this.clock);
    if (this.direction !== 'tx')
      this.rx = new Lane(rates, this.stats, rx, (seed ^ 0x9e3779b9) >>> 0, this.deliver, this.clock);
    inner.setReceiver((frame) => this.receive(frame));
  }

  /** Frames held now (delayed, or waiting to be reordered), both directions. */
  get holding(): number {
    return (this.tx?.holding ?? 0) + (this.rx?.holding ?? 0);
  }

  send(frame: Uint8Array): boolean {
    if (this.closing !== undefined) {
      this.stats.dropped.closed++;
      return false;
    }
    const lane = this.tx;
    if (lane === undefined) {
      if (!this.inner.send(frame)) return false;
      this.stats.txFrames++;
      this.stats.txBytes += frame.length;
      return true;
    }
    const ok = lane.pass(frame);
    this.arm();
    return ok;
  }

  setReceiver(rx: FrameReceiver | undefined): void {
    this.receiver = rx;
  }

  /** Stop: held frames are dropped ('closed'), the timer cleared, the inner port closed. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.stats.dropped.closed += (this.tx?.discard() ?? 0) + (this.rx?.discard() ?? 0);
    this.receiver = undefined;
    this.closing = this.inner.close();
    return this.closing;
  }

  private receive(frame: Uint8Array): void {
    if (this.closing !== undefined) {
      this.stats.dropped.closed++;
      return;
    }
    const lane = this.rx;
    if (lane === undefined) {
      this.deliver(frame);
      return;
    }
    lane.pass(frame);
    this.arm();
  }

  /** Keep the one timer set for the earliest held frame. */
  private arm(): void {
    if (this.closing !== undefined) return;
    const due = Math.min(
      this.tx?.nextDue() ?? Number.POSITIVE_INFINITY,
      this.rx?.nextDue() ?? Number.POSITIVE_INFINITY,
    );
    if (due === this.timerDue) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = due;
    if (due !== Number.POSITIVE_INFINITY)
      this.timer = setTimeout(this.onTimer, Math.max(0, due - this.clock()));
  }
}

/** Wrap `inner` so that frames through it suffer the faults asked for. */
export function faultInjector(inner: FramePort, options: FaultOptions): FaultInjector {
  return new FaultInjector(inner, options);
}
