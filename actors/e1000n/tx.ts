// The driver's transmit path, as the paper designed it and the original never ran:
// a client names the pbufs of a frame (transmit_packet); the driver checks that each
// lies inside the client's own TX buffer, copies the frame's header - as far as the
// buffer's transmit filters read - into a private slot, and runs those filters on
// that copy. Only if one accepts does the device get the frame: the header from
// the private copy, the rest from the client's memory. A client that rewrites its
// buffer after transmit_packet cannot change what the filters saw, because the
// device sends the copy. A refused frame gets an early tx_done with
// ETHSRV_ERR_TX_REFUSED, so that the client always gets its pbufs back.

import { MAX_FRAME } from '../../lib/phy/port.ts';
import { Err } from '../../protocols/errors.ts';
import { inside } from './buffers.ts';
import { copyBytes } from './copy.ts';
import type { FilterTable } from './filters.ts';
import { type DriverNic, HEADER_SLOT } from './nic.ts';
import { type ClientSession, MAX_PBUFS_PER_FRAME, type SessionTx } from './sessions.ts';
import { FRAGMENT_HEADER_BYTES, FragmentKind, TxFragments, txFragmentKind } from './tx-fragments.ts';

/** Frames one client may have accepted and not yet sent: more are refused (ETHSRV_ERR_CANT_TRANSMIT). */
export const MAX_IN_FLIGHT_PER_CLIENT = 256;

export interface TxStats {
  frames: number;
  bytes: number;
  refused: number;
  badPbuf: number;
  tooLong: number;
  /** No descriptors or header slots, or the client's own limit: refused at once. */
  busy: number;
}

/** What the driver remembers of a frame in flight: its client, buffer, slot and pbufs. */
interface InFlight {
  session: ClientSession;
  buffer: SessionTx;
  slot: number;
  count: number;
  readonly pbufIds: Uint32Array;
}

export class TxPath {
  readonly stats: TxStats = { frames: 0, bytes: 0, refused: 0, badPbuf: 0, tooLong: 0, busy: 0 };
  /** Fragmented datagrams being sent: a first fragment opens the way for its later ones. */
  readonly fragments: TxFragments<SessionTx>;
  /** The time of the current batch (the driver's service loop sets it). */
  now = 0;
  /** Frames in flight by token (the token is the header slot's number). */
  private readonly inFlight: (InFlight | undefined)[];
  private readonly completeNow = (token: number) => this.complete(token);

  constructor(
    private readonly nic: DriverNic,
    private readonly filters: FilterTable,
    fragments: TxFragments<SessionTx> = new TxFragments<SessionTx>({}, (b) => b.session),
  ) {
    this.fragments = fragments;
    this.inFlight = new Array(nic.headerSlots).fill(undefined);
  }

  /** One transmit_packet message: a pbuf of a frame; the frame goes when its last pbuf comes. */
  transmitPacket(
    s: ClientSession,
    bufferId: number,
    pbufId: number,
    offset: number,
    len: number,
    nrPbufs: number,
  ): undefined {
    const g = s.gather;
    if (g.count > 0 && (nrPbufs !== g.expected || bufferId !== g.bufferId)) {
      // Not the rest of the frame being gathered: that frame is spoilt, and so is this pbuf.
      g.pbufIds[g.count++] = pbufId;
      return this.spoil(s, Err.E1000_ERR_BAD_PBUF);
    }
    if (g.count === 0) {
      if (nrPbufs === 0 || nrPbufs > MAX_PBUFS_PER_FRAME) {
        g.pbufIds[g.count++] = pbufId;
        return this.spoil(s, Err.E1000_ERR_BAD_PBUF);
      }
      g.expected = nrPbufs;
      g.bufferId = bufferId;
      g.error = 0;
    }
    // Each pbuf is checked as it comes; a bad one spoils its whole frame.
    const b = s.tx.get(bufferId);
    if (b === undefined || !b.alive || !inside(b, offset, len)) g.error = Err.E1000_ERR_BAD_PBUF;
    const k = g.count++;
    g.pbufIds[k] = pbufId;
    g.offsets[k] = offset;
    g.lengths[k] = len;
    if (g.count < g.expected) return;
    if (g.error !== 0) return this.spoil(s, g.error);
    g.count = 0;
    this.send(s, b!, g.expected);
  }

  /** Every pbuf gathered so far gets its tx_done with `err`, now. */
  private spoil(s: ClientSession, err: number): undefined {
    const g = s.gather;
    this.stats.badPbuf++;
    s.stats.txBadPbuf++;
    for (let k = 0; k < g.count; k++) s.txDone(g.pbufIds[k]!, err);
    g.count = 0;
  }

  private send(s: ClientSession, b: SessionTx, n: number): undefined {
    const g = s.gather;
    let total = 0;
    for (let k = 0; k < n; k++) total += g.lengths[k]!;
    if (total > MAX_FRAME) return this.refuse(s, n, Err.ETHSRV_ERR_FRAME_TOO_LONG, 'tooLong');
    if (s.inFlight >= MAX_IN_FLIGHT_PER_CLIENT || this.nic.txFree() < n + 1) {
      return this.refuse(s, n, Err.ETHSRV_ERR_CANT_TRANSMIT, 'busy');
    }
    const slot = this.nic.takeSlot();
    if (slot < 0) return this.refuse(s, n, Err.ETHSRV_ERR_CANT_TRANSMIT, 'busy');

    // The private copy: the whole frame if it fits a slot, else as far as the filters read.
    const header = this.nic.slotView(slot);
    const want = total <= HEADER_SLOT ? total : Math.max(this.filters.headerBytes(b), FRAGMENT_HEADER_BYTES);
    let copied = 0;
    for (let k = 0; k < n && copied < want; k++) {
      const take = Math.min(g.lengths[k]!, want - copied);
      copyBytes(header, copied, b.bytes, g.offsets[k]!, take);
      copied += take;
    }
    if (copied === 0 || !this.accepts(b, header, copied, total)) {
      this.nic.releaseSlot(slot);
      return this.refuse(s, n, Err.ETHSRV_ERR_TX_REFUSED, 'refused');
    }

    // Accepted: the header from the private slot, then the rest from the client's pbufs.
    const rest = total - copied;
    this.nic.postTx(this.nic.slotPhys(slot), copied, rest === 0, slot);
    let skip = copied;
    for (let k = 0; k < n && rest > 0; k++) {
      const len = g.lengths[k]!;
      if (skip >= len) {
        skip -= len;
        continue;
      }
      const off = g.offsets[k]! + skip;
      const piece = len - skip;
      skip = 0;
      this.nic.postTx(b.phys + off, piece, k === n - 1, slot);
    }
    const f = (this.inFlight[slot] ??= {
      session: s,
      buffer: b,
      slot,
      count: 0,
      pbufIds: new Uint32Array(MAX_PBUFS_PER_FRAME),
    });
    f.session = s;
    f.buffer = b;
    f.count = n;
    for (let k = 0; k < n; k++) f.pbufIds[k] = g.pbufIds[k]!;
    s.inFlight++;
    b.inFlight++;
    this.stats.frames++;
    this.stats.bytes += total;
    s.stats.txFrames++;
    s.stats.txBytes += total;
  }

  /** The transmit filters decide, with fragments following their first (tx-fragments.ts). */
  private accepts(b: SessionTx, header: Uint8Array, len: number, total: number): boolean {
    // An IPv4 header shorter than 20 bytes would have the filters read ports out of
    // the IP header itself: never sent (the filters leave it to the driver).
    if (len >= 15 && header[12] === 0x08 && header[13] === 0x00 && (header[14]! & 0x0f) < 5) return false;
    const kind = txFragmentKind(header, len);
    if (kind === FragmentKind.Later) return this.fragments.follows(b, header, this.now);
    if (!this.filters.txAccepts(b, header, len, total)) return false;
    return kind === FragmentKind.None || this.fragments.openFirst(b, header, this.now);
  }

  /** Tell the device about this batch's frames. */
  flush(): void {
    this.nic.flushTx();
  }

  /** Frames the device has sent: their pbufs go back to their clients. */
  reap(): number {
    return this.nic.reapTx(this.completeNow);
  }

  private complete(slot: number): void {
    const f = this.inFlight[slot];
    if (f === undefined || f.count === 0) return;
    this.nic.releaseSlot(slot);
    const s = f.session;
    s.inFlight--;
    f.buffer.inFlight--;
    for (let k = 0; k < f.count; k++) s.txDone(f.pbufIds[k]!, Err.OK);
    f.count = 0;
  }

  private refuse(s: ClientSession, n: number, err: number, why: 'refused' | 'tooLong' | 'busy'): undefined {
    this.stats[why]++;
    if (why === 'refused') s.stats.txRefused++;
    else if (why === 'tooLong') s.stats.txTooLong++;
    else s.stats.txBusy++;
    for (let k = 0; k < n; k++) s.txDone(s.gather.pbufIds[k]!, err);
  }
}
