// What the stack needs of the link below it (smoltcp's Device): frames in, frames out
// through a fixed set of transmit slots. The driver link (netif.ts) is one; a test
// can plug in its own. The stack never allocates frame memory: it writes each
// outgoing frame straight into a slot and hands the slot over.
import type { ErrCode } from '../../protocols/errors.ts';
import type { Mac } from '../net/index.ts';

export interface LinkHandlers {
  /** A frame arrived: `frame[0..len)`, a view valid only during the call. */
  frame(frame: Uint8Array, len: number): void;
  /** A slot handed to transmit() is free again; err is OK (0) or why the frame was not sent. */
  txDone(slot: number, err: ErrCode): void;
  /** The link is gone (the driver died, the binding closed): nothing more will come. */
  down(reason: string): void;
}

export interface Link {
  readonly mac: Mac;
  /** Bytes per transmit slot (a frame of at most this many bytes fits one). */
  readonly slotBytes: number;
  /** All transmit memory: slot i is txBytes[i * slotBytes, (i + 1) * slotBytes). */
  readonly txBytes: Uint8Array;
  readonly txSlots: number;
  /** A free slot, or -1 when all are in use (back-pressure: wait with txReady()). */
  txAlloc(): number;
  /** Give back a slot that was allocated and will not be transmitted. */
  txRelease(slot: number): void;
  /** Free slots. */
  txAvailable(): number;
  /**
   * Send the frame of `len` bytes in `slot`. True: the slot is the link's until
   * txDone. False: not sent (the link is busy or down); the slot is still the caller's.
   */
  transmit(slot: number, len: number): boolean;
  /** Resolves when a slot is free (at once if one is); rejects when the link is down. */
  txReady(): Promise<void>;
  setHandlers(h: LinkHandlers): void;
  readonly isUp: boolean;
  close(): Promise<void>;
}
