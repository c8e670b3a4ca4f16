// The virtual switch: a learning bridge (IEEE 802.1D's forwarding process, without
// spanning tree) between FramePorts.
//
// Each frame taken in from a port teaches the switch where its source address is;
// a unicast frame to a known address goes out of that one port, and a frame to a
// group address (broadcast, multicast) or to an unknown one is flooded to every
// other port. No frame ever leaves by the port it came in on. Each frame taken in
// meets exactly one fate, counted per port and switch-wide: forwarded, flooded,
// filtered (its destination is behind the port it came from) or dropped by cause.
// A port's refusal to send (its queue full, say) is counted by that port, by cause,
// and by the switch as txRefused.
//
// Ports are expected to deliver later, not inside send (the cable, VXLAN and the NIC
// do): switches joined in a loop by ports that deliver at once would recurse without
// bound. With asynchronous ports a loop only circulates frames (there is no spanning
// tree), which the counters show.

import { FishnetError } from '../../protocols/errors.ts';
import { type MacEntry, MacTable } from './mac-table.ts';
import { checkOptions, checkPort, functionOption, numberOption, stringOption } from './options.ts';
import { type FramePort, MIN_FRAME } from './port.ts';

/** Why the switch dropped a frame it took in. */
export type SwitchDropCause =
  /** Shorter than an Ethernet header (14 bytes). */
  | 'bad-length'
  /** The source address is a group address or all zeros: no station sends from it (802.1D). */
  | 'bad-source'
  /** Delivered by a port after it was detached (a port that ignored setReceiver(undefined)). */
  | 'detached';

export interface SwitchPortStats {
  /** Frames and bytes taken in from this port. */
  rxFrames: number;
  rxBytes: number;
  /** Frames and bytes put out on this port (accepted by its send). */
  txFrames: number;
  txBytes: number;
  /** Frames this port's send refused; the port's own stats say why. */
  txRefused: number;
  /** Of the frames taken in: sent to the one port their destination was learned on. */
  forwarded: number;
  /** Of the frames taken in: sent to every other port (group or unknown destination). */
  flooded: number;
  /** Of the frames taken in: not sent at all, their destination being behind this same port. */
  filtered: number;
  /** Of the frames taken in: dropped, by cause. */
  readonly dropped: Record<SwitchDropCause, number>;
}

export interface SwitchStats extends SwitchPortStats {
  /** Addresses learned, moved to another port, aged out, and evicted because the table was full. */
  learned: number;
  moved: number;
  readonly aged: number;
  readonly evicted: number;
  /** Addresses in the table now. */
  readonly entries: number;
}

export interface SwitchOptions {
  readonly name?: string;
  /** How long an address stays learned without being seen. Default 300 000 ms (802.1D). */
  readonly ageingMs?: number;
  /** The most addresses the table holds; past it the least recently seen is evicted. Default 8192. */
  readonly maxEntries?: number;
  /** Milliseconds on any monotonic scale; read at most once per turn of the event loop. Default performance.now. */
  readonly now?: () => number;
}

const OPTIONS = ['name', 'ageingMs', 'maxEntries', 'now'] as const;

function emptyPortStats(): SwitchPortStats {
  return {
    rxFrames: 0,
    rxBytes: 0,
    txFrames: 0,
    txBytes: 0,
    txRefused: 0,
    forwarded: 0,
    flooded: 0,
    filtered: 0,
    dropped: { 'bad-length': 0, 'bad-source': 0, detached: 0 },
  };
}

/** A port attached to the switch: the handle attach() returns. */
export class SwitchPort {
  readonly stats: SwitchPortStats = emptyPortStats();
  private live = true;

  /** @internal made by VirtualSwitch.attach */
  constructor(
    private readonly sw: VirtualSwitch,
    /** Index of the port on the switch (reused after a detach). */
    readonly index: number,
    readonly port: FramePort,
  ) {}

  get attached(): boolean {
    return this.live;
  }

  /** Stop switching frames to and from the port; forget the addresses learned on it. Idempotent. */
  detach(): void {
    if (!this.live) return;
    this.live = false;
    this.sw.release(this);
  }
}

// A port has one receiver, so it can be attached to one switch at a time.
const attachedTo = new WeakMap<FramePort, VirtualSwitch>();

export class VirtualSwitch {
  readonly name: string;
  private readonly table: MacTable;
  private readonly ports: (SwitchPort | undefined)[] = [];
  private readonly totals = emptyPortStats();
  private learnedCount = 0;
  private movedCount = 0;
  private readonly clock: () => number;
  // The clock is read once per turn of the event loop, not per frame: a clock read
  // costs as much as switching a frame, and allocates.
  private clockNow = 0;
  private clockFresh = false;
  private readonly staleClock = () => {
    this.clockFresh = false;
  };

  constructor(options?: SwitchOptions) {
    const o = checkOptions('VirtualSwitch', options, OPTIONS);
    this.name = stringOption('VirtualSwitch', 'name', o.name, 'switch');
    const ageing = numberOption('VirtualSwitch', 'ageingMs', o.ageingMs, { min: 1, max: 2 ** 31 }, 300_000);
    const max = numberOption(
      'VirtualSwitch',
      'maxEntries',
      o.maxEntries,
      { min: 1, max: 1 << 20, integer: true },
      8192,
    );
    this.clock = functionOption('VirtualSwitch', 'now', o.now, () => performance.now());
    this.table = new MacTable(max, ageing);
  }

  /** Plug a port into the switch. The switch becomes the port's receiver until detach(). */
  attach(port: FramePort): SwitchPort {
    checkPort('VirtualSwitch.attach', 'port', port);
    const other = attachedTo.get(port);
    if (other !== undefined)
      throw new FishnetError('LINK_ERR_ALREADY_ATTACHED', `port '${port.name}' is on switch '${other.name}'`);
    attachedTo.set(port, this);
    let index = this.ports.indexOf(undefined);
    if (index < 0) index = this.ports.length;
    const handle = new SwitchPort(this, index, port);
    this.ports[index] = handle;
    port.setReceiver((frame) => this.ingress(handle, frame));
    return handle;
  }

  /** Switch-wide counters: the sums over every port ever attached, and the table's. */
  get stats(): SwitchStats {
    const t = this.totals;
    return {
      ...t,
      dropped: { ...t.dropped },
      learned: this.learnedCount,
      moved: this.movedCount,
      aged: this.table.aged,
      evicted: this.table.evicted,
      entries: this.table.size,
    };
  }

  /** The ports attached now. */
  attached(): SwitchPort[] {
    return this.ports.filter((p): p is SwitchPort => p !== undefined);
  }

  /** The learned addresses, least recently seen first (entries older than the ageing time removed first). */
  addresses(): MacEntry[] {
    const now = this.clock();
    this.table.expire(now);
    return this.table.entries(now);
  }

  /** Detach every port. The ports themselves stay open: they belong to whoever attached them. */
  close(): void {
    for (const p of [...this.ports]) p?.detach();
  }

  /** @internal SwitchPort.detach */
  release(p: SwitchPort): void {
    if (this.ports[p.index] !== p) return;
    this.ports[p.index] = undefined;
    while (this.ports.length > 0 && this.ports[this.ports.length - 1] === undefined) this.ports.pop();
    this.table.forgetPort(p.index);
    p.port.setReceiver(undefined);
    attachedTo.delete(p.port);
  }

  private now(): number {
    if (!this.clockFresh) {
      this.clockNow = this.clock();
      this.clockFresh = true;
      queueMicrotask(this.staleClock);
    }
    return this.clockNow;
  }

  private ingress(from: SwitchPort, f: Uint8Array): void {
    const s = from.stats;
    const t = this.totals;
    const len = f.length;
    s.rxFrames++;
    s.rxBytes += len;
    t.rxFrames++;
    t.rxBytes += len;
    if (this.ports[from.index] !== from) {
      s.dropped.detached++;
      t.dropped.detached++;
      return;
    }
    if (len < MIN_FRAME) {
      s.dropped['bad-length']++;
      t.dropped['bad-length']++;
      return;
    }
    const srcHi = (f[6]! << 8) | f[7]!;
    const srcLo = (f[8]! << 24) | (f[9]! << 16) | (f[10]! << 8) | f[11]!;
    if ((f[6]! & 1) !== 0 || (srcHi | srcLo) === 0) {
      s.dropped['bad-source']++;
      t.dropped['bad-source']++;
      return;
    }
    const now = this.now();
    const learned = this.table.learn(srcHi, srcLo, from.index, now);
    if (learned === 'new') this.learnedCount++;
    else if (learned === 'moved') this.movedCount++;

    // The I/G bit: broadcast and multicast destinations are flooded.
    if ((f[0]! & 1) === 0) {
      const out = this.table.lookup(
        (f[0]! << 8) | f[1]!,
        (f[2]! << 24) | (f[3]! << 16) | (f[4]! << 8) | f[5]!,
        now,
      );
      if (out === from.index) {
        s.filtered++;
        t.filtered++;
        return;
      }
      const to = out >= 0 ? this.ports[out] : undefined;
      if (to !== undefined) {
        s.forwarded++;
        t.forwarded++;
        this.egress(to, f);
        return;
      }
    }
    s.flooded++;
    t.flooded++;
    const ports = this.ports;
    for (let i = 0; i < ports.length; i++) {
      const p = ports[i];
      if (p !== undefined && p !== from) this.egress(p, f);
    }
  }

  private egress(to: SwitchPort, f: Uint8Array): void {
    const s = to.stats;
    const t = this.totals;
    if (to.port.send(f)) {
      s.txFrames++;
      s.txBytes += f.length;
      t.txFrames++;
      t.txBytes += f.length;
    } else {
      s.txRefused++;
      t.txRefused++;
    }
  }
}
