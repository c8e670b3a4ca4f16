// The stack's link to the e1000n driver (protocols/ether.if on the shared-memory
// transport). Receive: one RX buffer carved into pbufs of 2 KiB, all handed to the
// driver; each frame the driver reports is copied once out of the shared pbuf into
// private memory (so that no other thread can change it while it is parsed), the
// pbuf goes straight back, and the stack sees the private copy. Transmit: one TX
// buffer carved into slots, one frame per slot, one transmit_packet per frame; a
// slot is the stack's again at tx_done. When no slot is free a send fails at once
// (txAlloc() = -1) and txReady() says when to try again: nothing waits unseen.
// Messages to the driver travel on the binding's shared-memory ring and its doorbell
// rings once per batch (the end of the current microtask), not once per frame.
//
// The driver is a peer like any other: every pbuf and slot it names is checked
// against what we handed it, and what it reports that does not fit is counted.
import { Err, type ErrCode, errorName, FishnetError } from '../../protocols/errors.ts';
import { BufferRole, type EtherClient, ether } from '../../protocols/generated/ether.ts';
import type { ActorContext } from '../../runtime/actor.ts';
import type { DisconnectReason } from '../../runtime/binding/binding.ts';
import type { Mac } from '../net/index.ts';
import { copyBytes, wordsOf } from '../shm/copy.ts';
import type { Link, LinkHandlers } from './link.ts';

/** Bytes per receive pbuf and per transmit slot: a frame (1518 with a VLAN tag) fits, 8-byte aligned. */
export const PBUF_BYTES = 2048;
/** The driver keeps at most this many pbufs per buffer. */
export const MAX_RX_PBUFS = 4096;
/** The driver accepts at most this many frames in flight per client; more slots would only be refused. */
export const MAX_TX_SLOTS = 256;
/** The smallest buffer the driver takes. */
const MIN_BUFFER = 4096;

export interface NetifOptions {
  /** The driver's service: `<machine>/ether`. */
  readonly service: string;
  /** Receive pbufs kept with the driver (default 256). */
  readonly rxPbufs?: number;
  /** Transmit slots: frames in flight at once (default 256, at most 256). */
  readonly txSlots?: number;
  /** Wait this long for the driver's service (default: it must be there). */
  readonly timeoutMs?: number;
}

export interface NetifStats {
  rxFrames: number;
  rxBytes: number;
  /** packet_received reports we could not use, by what was wrong with them (the pbuf goes back when it is ours). */
  readonly rxBadReport: { unknownPbuf: number; badOffset: number; badLength: number };
  /** Pbufs the driver refused (pbuf_refused), by its error: retired, never offered again. */
  readonly pbufsRefused: Record<string, number>;
  /** Pbufs with the driver now, and waiting for room on the ring to go back. */
  pbufsPosted: number;
  pbufsWaiting: number;
  txFrames: number;
  txBytes: number;
  txOk: number;
  /** Frames the driver did not send, by its tx_done error. */
  readonly txFailed: Record<string, number>;
  /** transmit() refused: the ring to the driver was full or the link down (the caller kept the slot). */
  txRingFull: number;
  txLinkDown: number;
  /** tx_done for a slot that was not in flight. */
  txUnknownDone: number;
  slotsFree: number;
}

const RX_IDLE = 0; // ours (being processed, or waiting for ring room)
const RX_POSTED = 1; // the driver's
const RX_RETIRED = 2; // refused by the driver

const TX_FREE = 0;
const TX_ALLOCATED = 1;
const TX_IN_FLIGHT = 2;

function count(n: unknown, name: string, dflt: number, max: number): number {
  if (n === undefined) return dflt;
  if (!(typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= max))
    throw new FishnetError('LWIP_ERR_ARG', `netif: ${name} ${String(n)} is not an integer in 1..${max}`);
  return n;
}

export class Netif implements Link {
  readonly slotBytes = PBUF_BYTES;
  readonly txBytes: Uint8Array;
  readonly txSlots: number;
  readonly rxPbufs: number;
  private readonly stats_: NetifStats;

  private readonly rxBytes: Uint8Array;
  private readonly rxWords: Int32Array;
  private readonly rxState: Uint8Array;
  /** Pbufs waiting for ring room, FIFO. */
  private readonly waiting: Int32Array;
  private waitHead = 0;
  private waitCount = 0;
  private draining = false;

  private readonly scratch = new Uint8Array(PBUF_BYTES);
  private readonly scratchWords = wordsOf(this.scratch.buffer);

  private readonly txState: Uint8Array;
  /** Free slots, a stack. */
  private readonly freeSlots: Int32Array;
  private freeTop: number;
  private readyWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];

  private handlers: LinkHandlers | undefined;
  private up = true;

  private constructor(
    private readonly ep: EtherClient,
    readonly mac: Mac,
    readonly rxBufferId: number,
    readonly txBufferId: number,
    rxMem: SharedArrayBuffer,
    txMem: SharedArrayBuffer,
    rxPbufs: number,
    txSlots: number,
  ) {
    this.rxPbufs = rxPbufs;
    this.txSlots = txSlots;
    this.rxBytes = new Uint8Array(rxMem);
    this.rxWords = wordsOf(rxMem);
    this.txBytes = new Uint8Array(txMem);
    this.rxState = new Uint8Array(rxPbufs);
    this.waiting = new Int32Array(rxPbufs);
    this.txState = new Uint8Array(txSlots);
    this.freeSlots = new Int32Array(txSlots);
    for (let i = 0; i < txSlots; i++) this.freeSlots[i] = txSlots - 1 - i;
    this.freeTop = txSlots;
    this.stats_ = {
      rxFrames: 0,
      rxBytes: 0,
      rxBadReport: { unknownPbuf: 0, badOffset: 0, badLength: 0 },
      pbufsRefused: {},
      pbufsPosted: 0,
      pbufsWaiting: 0,
      txFrames: 0,
      txBytes: 0,
      txOk: 0,
      txFailed: {},
      txRingFull: 0,
      txLinkDown: 0,
      txUnknownDone: 0,
      slotsFree: txSlots,
    };
    ep.rx.packet_received = (id, offset, pbufLen, len) => this.received(id, offset, pbufLen, len);
    ep.rx.pbuf_refused = (id, err) => this.refused(id, err);
    ep.rx.tx_done = (id, err) => this.done(id, err);
    ep.binding.onDisconnect((r) => this.linkDown(r));
    for (let i = 0; i < rxPbufs; i++) this.post(i);
  }

  /** Bind the driver, register an RX and a TX buffer, hand it the pbufs. */
  static async open(ctx: ActorContext<unknown>, opts: NetifOptions): Promise<Netif> {
    if (typeof opts?.service !== 'string' || opts.service === '')
      throw new FishnetError('LWIP_ERR_ARG', `netif: service ${JSON.stringify(opts?.service)} is not a name`);
    const rxPbufs = count(opts.rxPbufs, 'rxPbufs', 256, MAX_RX_PBUFS);
    const txSlots = count(opts.txSlots, 'txSlots', 256, MAX_TX_SLOTS);
    const ep = await ctx.connect(ether, opts.service, {
      transport: 'shm',
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
    });
    try {
      const rxMem = new SharedArrayBuffer(Math.max(MIN_BUFFER, rxPbufs * PBUF_BYTES));
      const txMem = new SharedArrayBuffer(Math.max(MIN_BUFFER, txSlots * PBUF_BYTES));
      const { buffer_id: rx } = await ep.rpc.register_buffer(rxMem, BufferRole.BUFFER_RX);
      const { buffer_id: tx } = await ep.rpc.register_buffer(txMem, BufferRole.BUFFER_TX);
      const { hwaddr } = await ep.rpc.get_mac_address();
      return new Netif(ep, Number(hwaddr) as Mac, rx, tx, rxMem, txMem, rxPbufs, txSlots);
    } catch (e) {
      ep.close();
      throw e;
    }
  }

  get isUp(): boolean {
    return this.up;
  }

  setHandlers(h: LinkHandlers): void {
    this.handlers = h;
  }

  stats(): NetifStats {
    const s = structuredClone(this.stats_);
    s.slotsFree = this.freeTop;
    s.pbufsWaiting = this.waitCount;
    return s;
  }

  /** What the driver counted for this client (its get_statistics). */
  async driverStats(): Promise<{ rxFrames: number; rxDropped: number; txFrames: number; txRefused: number }> {
    const s = await this.ep.rpc.get_statistics();
    return {
      rxFrames: Number(s.rx_frames),
      rxDropped: Number(s.rx_dropped),
      txFrames: Number(s.tx_frames),
      txRefused: Number(s.tx_refused),
    };
  }

  // ---- receive ----------------------------------------------------------------------

  private received(id: number, offset: number, pbufLen: number, len: number): void {
    const st = this.stats_;
    if (id >= this.rxPbufs || this.rxState[id] !== RX_POSTED) {
      st.rxBadReport.unknownPbuf++;
      return;
    }
    this.rxState[id] = RX_IDLE;
    st.pbufsPosted--;
    const base = id * PBUF_BYTES;
    if (offset !== base) {
      st.rxBadReport.badOffset++;
      this.post(id);
      return;
    }
    if (len === 0 || len > pbufLen || pbufLen > PBUF_BYTES) {
      st.rxBadReport.badLength++;
      this.post(id);
      return;
    }
    copyBytes(this.scratch, this.scratchWords, 0, this.rxBytes, this.rxWords, base, len);
    this.post(id);
    st.rxFrames++;
    st.rxBytes += len;
    this.handlers?.frame(this.scratch, len);
  }

  private refused(id: number, err: ErrCode): void {
    if (id >= this.rxPbufs || this.rxState[id] !== RX_POSTED) {
      this.stats_.rxBadReport.unknownPbuf++;
      return;
    }
    this.rxState[id] = RX_RETIRED;
    this.stats_.pbufsPosted--;
    const name = errorName(err);
    this.stats_.pbufsRefused[name] = (this.stats_.pbufsRefused[name] ?? 0) + 1;
  }

  /** Hand pbuf `id` to the driver, or queue it until the ring has room. */
  private post(id: number): void {
    if (!this.up) return;
    if (this.waitCount === 0 && this.send(id)) return;
    this.waiting[(this.waitHead + this.waitCount) % this.rxPbufs] = id;
    this.waitCount++;
    if (!this.draining) void this.drain();
  }

  private send(id: number): boolean {
    let ok: boolean;
    try {
      ok = this.ep.tx.register_pbuf(this.rxBufferId, id, id * PBUF_BYTES, PBUF_BYTES);
    } catch {
      return false; // the binding ended; linkDown() follows
    }
    if (ok) {
      this.rxState[id] = RX_POSTED;
      this.stats_.pbufsPosted++;
    }
    return ok;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.up && this.waitCount > 0) {
        await this.ep.writable();
        while (this.waitCount > 0 && this.send(this.waiting[this.waitHead]!)) {
          this.waitHead = (this.waitHead + 1) % this.rxPbufs;
          this.waitCount--;
        }
      }
    } catch {
      // the binding ended: linkDown() handles it
    } finally {
      this.draining = false;
    }
  }

  // ---- transmit -----------------------------------------------------------------------

  txAlloc(): number {
    if (!this.up || this.freeTop === 0) return -1;
    const slot = this.freeSlots[--this.freeTop]!;
    this.txState[slot] = TX_ALLOCATED;
    return slot;
  }

  txRelease(slot: number): void {
    if (this.txState[slot] !== TX_ALLOCATED) throw new RangeError(`netif: slot ${slot} is not allocated`);
    this.free(slot);
  }

  txAvailable(): number {
    return this.up ? this.freeTop : 0;
  }

  transmit(slot: number, len: number): boolean {
    if (this.txState[slot] !== TX_ALLOCATED) throw new RangeError(`netif: slot ${slot} is not allocated`);
    if (!(len >= 14 && len <= PBUF_BYTES)) throw new RangeError(`netif: a frame of ${len} bytes`);
    const st = this.stats_;
    if (!this.up) {
      st.txLinkDown++;
      return false;
    }
    let ok: boolean;
    try {
      ok = this.ep.tx.transmit_packet(this.txBufferId, slot, slot * PBUF_BYTES, len, 1);
    } catch {
      st.txLinkDown++;
      return false;
    }
    if (!ok) {
      st.txRingFull++;
      return false;
    }
    this.txState[slot] = TX_IN_FLIGHT;
    st.txFrames++;
    st.txBytes += len;
    return true;
  }

  txReady(): Promise<void> {
    if (!this.up) return Promise.reject(new FishnetError('LWIP_ERR_IF', 'the link to the driver is down'));
    if (this.freeTop > 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  private done(id: number, err: ErrCode): void {
    const st = this.stats_;
    if (id >= this.txSlots || this.txState[id] !== TX_IN_FLIGHT) {
      st.txUnknownDone++;
      return;
    }
    if (err === Err.OK) st.txOk++;
    else {
      const name = errorName(err);
      st.txFailed[name] = (st.txFailed[name] ?? 0) + 1;
    }
    this.free(id);
    this.handlers?.txDone(id, err);
  }

  private free(slot: number): void {
    this.txState[slot] = TX_FREE;
    this.freeSlots[this.freeTop++] = slot;
    if (this.readyWaiters.length > 0) {
      const ws = this.readyWaiters;
      this.readyWaiters = [];
      for (const w of ws) w.resolve();
    }
  }

  // ---- the end ----------------------------------------------------------------------

  private linkDown(r: DisconnectReason): void {
    if (!this.up) return;
    this.up = false;
    const reason = r.kind === 'peer-died' ? 'the driver died' : `the binding was closed by ${r.by}`;
    this.waitCount = 0;
    // Frames in flight will never be reported: their slots come back now, failed.
    const code = r.kind === 'peer-died' ? Err.RT_ERR_PEER_DIED : Err.RT_ERR_BINDING_CLOSED;
    for (let s = 0; s < this.txSlots; s++) {
      if (this.txState[s] !== TX_IN_FLIGHT) continue;
      const name = errorName(code);
      this.stats_.txFailed[name] = (this.stats_.txFailed[name] ?? 0) + 1;
      this.txState[s] = TX_FREE;
      this.freeSlots[this.freeTop++] = s;
      this.handlers?.txDone(s, code);
    }
    const ws = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of ws) w.reject(new FishnetError('LWIP_ERR_IF', reason));
    this.handlers?.down(reason);
  }

  /** Close the binding: the driver drops our buffers, pbufs and filters' buffers. */
  async close(): Promise<void> {
    this.ep.close();
  }
}
