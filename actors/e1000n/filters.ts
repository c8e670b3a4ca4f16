// The driver's filters: what netd registered, and the questions the RX and TX paths
// ask of them. Port filters come in pairs (an RX filter bound to a client's RX
// buffer, a TX filter bound to its TX buffer); the ARP pair is driver-wide. RX
// classification goes through the merged demux index (first match wins, in
// registration order); a TX check runs only the TX filters of the sending buffer,
// plus the ARP transmit filter, on the driver's private copy of the header.

import {
  DemuxIndex,
  executeFilter,
  type Prepared,
  type Program,
  prepare,
  verifyFilter,
} from '../../lib/bfdmux/index.ts';
import { FishnetError } from '../../protocols/errors.ts';
import type { SessionRx as RxBuffer, SessionTx as TxBuffer } from './sessions.ts';

export type FilterId = number;

/** Never copy more than this for a transmit check: a filter that reads further does not match. */
export const MAX_HEADER_COPY = 256;

export interface PortFilter {
  readonly id: FilterId;
  readonly rx: RxBuffer;
  readonly tx: TxBuffer;
  /**
   * The TX filter for the VM: preparing one costs ~20 µs where a JIT function costs
   * ~80 µs, and a port is opened far more often than its few filters run per frame
   * are worth the difference (the VM runs a port filter in ~60 ns).
   */
  readonly txProgram: Prepared;
  /** Bytes of a frame the TX filter can read. */
  readonly txHeaderBytes: number;
  /** Frames and bytes the RX filter claimed, frames and bytes the TX filter let out. */
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
}

interface ArpFilters {
  readonly rx: Prepared;
  readonly tx: Prepared;
  readonly txHeaderBytes: number;
}

/** What inspection shows of a filter. */
export interface FilterInfo {
  readonly id: FilterId;
  readonly owner: number;
  readonly rxBuffer: number;
  readonly txBuffer: number;
  readonly rxFrames: number;
  readonly rxBytes: number;
  readonly txFrames: number;
  readonly txBytes: number;
}

function verified(code: Uint8Array, what: string): Program {
  const v = verifyFilter(code);
  if (!v.ok) throw new FishnetError('FILTER_ERR_BAD_CODE', `${what}: ${v.reason} at byte ${v.at}`);
  return v.program;
}

export class FilterTable {
  private readonly index = new DemuxIndex<PortFilter>();
  private readonly byId = new Map<FilterId, PortFilter>();
  private readonly byTxBuffer = new Map<TxBuffer, PortFilter[]>();
  private arp: ArpFilters | undefined;
  private nextId = 1;

  get size(): number {
    return this.byId.size;
  }

  /**
   * A port's filter pair. The code is verified first; both buffers must belong to
   * the same client (a filter pair serves one client's port).
   */
  register(rx: RxBuffer, tx: TxBuffer, rxCode: Uint8Array, txCode: Uint8Array): PortFilter {
    if (rx.owner !== tx.owner) {
      throw new FishnetError(
        'E1000_ERR_NOT_OWNER',
        `RX buffer ${rx.id} belongs to actor ${rx.owner}, TX buffer ${tx.id} to actor ${tx.owner}`,
      );
    }
    const rxProgram = verified(rxCode, 'RX filter');
    const txProgram = verified(txCode, 'TX filter');
    const id = this.nextId++;
    const f: PortFilter = {
      id,
      rx,
      tx,
      txProgram: prepare(txProgram),
      txHeaderBytes: Math.min(txProgram.lastByteRead, MAX_HEADER_COPY),
      rxFrames: 0,
      rxBytes: 0,
      txFrames: 0,
      txBytes: 0,
    };
    this.index.register(id, rxProgram, f);
    this.byId.set(id, f);
    const list = this.byTxBuffer.get(tx);
    if (list) list.push(f);
    else this.byTxBuffer.set(tx, [f]);
    return f;
  }

  deregister(id: FilterId): PortFilter | undefined {
    const f = this.byId.get(id);
    if (!f) return undefined;
    this.byId.delete(id);
    this.index.deregister(id);
    const list = this.byTxBuffer.get(f.tx)!;
    list.splice(list.indexOf(f), 1);
    if (list.length === 0) this.byTxBuffer.delete(f.tx);
    return f;
  }

  /** Every filter bound to a buffer goes with it. Returns how many. */
  dropBuffer(b: RxBuffer | TxBuffer): number {
    let n = 0;
    for (const f of [...this.byId.values()]) {
      if (f.rx === b || f.tx === b) {
        this.deregister(f.id);
        n++;
      }
    }
    return n;
  }

  get(id: FilterId): PortFilter | undefined {
    return this.byId.get(id);
  }

  setArp(rxCode: Uint8Array, txCode: Uint8Array): void {
    const rx = verified(rxCode, 'ARP RX filter');
    const tx = verified(txCode, 'ARP TX filter');
    this.arp = {
      rx: prepare(rx),
      tx: prepare(tx),
      txHeaderBytes: Math.min(tx.lastByteRead, MAX_HEADER_COPY),
    };
  }

  /** The port filter that claims a frame (first registered wins), or undefined. */
  classify(frame: Uint8Array, len: number): PortFilter | undefined {
    if (this.index.size === 0) return undefined;
    const id = this.index.first(frame, len);
    return id < 0 ? undefined : this.byId.get(id);
  }

  /** netd registered the ARP filter pair. */
  get hasArp(): boolean {
    return this.arp !== undefined;
  }

  isArp(frame: Uint8Array, len: number): boolean {
    return this.arp !== undefined && executeFilter(this.arp.rx, frame, len) === 1;
  }

  /** How many header bytes a frame from `tx` must have copied before its check. */
  headerBytes(tx: TxBuffer): number {
    let n = this.arp?.txHeaderBytes ?? 0;
    const list = this.byTxBuffer.get(tx);
    if (list) for (const f of list) if (f.txHeaderBytes > n) n = f.txHeaderBytes;
    return n;
  }

  /**
   * Run the buffer's transmit filters (and the ARP one) on the private copy of a
   * frame's header. The filter that accepted counts the frame; true if one did.
   */
  txAccepts(tx: TxBuffer, header: Uint8Array, len: number, frameBytes: number): boolean {
    const list = this.byTxBuffer.get(tx);
    if (list) {
      for (const f of list) {
        if (executeFilter(f.txProgram, header, len) === 1) {
          f.txFrames++;
          f.txBytes += frameBytes;
          return true;
        }
      }
    }
    return this.arp !== undefined && executeFilter(this.arp.tx, header, len) === 1;
  }

  list(): FilterInfo[] {
    return [...this.byId.values()].map((f) => ({
      id: f.id,
      owner: f.rx.owner,
      rxBuffer: f.rx.id,
      txBuffer: f.tx.id,
      rxFrames: f.rxFrames,
      rxBytes: f.rxBytes,
      txFrames: f.txFrames,
      txBytes: f.txBytes,
    }));
  }
}
