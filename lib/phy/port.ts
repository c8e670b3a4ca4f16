// The wire, as software sees it: a FramePort is one end of a link. Whatever is
// plugged into the far end (a NIC, the virtual switch, a VXLAN tunnel, a test)
// receives what this end sends, and the other way round.
//
// Links never block: a frame that cannot be carried is dropped and counted, as on
// a real wire. Middlewares (the pcap tap, the fault injector) wrap a port and are
// ports themselves, so they stand on any link.

/** Why a port dropped a frame. */
export type DropCause =
  /** The queue towards the far end was full. */
  | 'queue-full'
  /** Shorter than an Ethernet header (14 bytes) or longer than the port carries. */
  | 'bad-length'
  /** The port is closed. */
  | 'closed'
  /** A middleware dropped it on purpose (the fault injector). */
  | 'injected'
  /** Anything a transport refuses (a VXLAN datagram with a bad header, say). */
  | 'malformed'
  /** The transport's own send failed (the OS refused a VXLAN datagram). */
  | 'send-failed';

export interface PortStats {
  /** Frames and bytes handed to this port's receiver. */
  rxFrames: number;
  rxBytes: number;
  /** Frames and bytes sent towards the far end. */
  txFrames: number;
  txBytes: number;
  /** Frames dropped, by cause. */
  readonly dropped: Record<DropCause, number>;
}

export type FrameReceiver = (frame: Uint8Array) => void;

export interface FramePort {
  readonly name: string;
  /**
   * Put a frame on the wire towards the far end. The bytes are copied (or written
   * out) before send returns, so the caller may reuse them. Returns false when the
   * frame was dropped (and counted in stats.dropped).
   */
  send(frame: Uint8Array): boolean;
  /**
   * Install the receiver of frames from the far end (one at a time; undefined
   * removes it). `frame` is a view that is valid only during the call: copy it to
   * keep it. Frames that arrive with no receiver are dropped and counted as 'closed'.
   */
  setReceiver(rx: FrameReceiver | undefined): void;
  readonly stats: PortStats;
  /** Stop carrying frames and release what the port holds (sockets, threads' rings). */
  close(): Promise<void>;
}

export function emptyStats(): PortStats {
  return {
    rxFrames: 0,
    rxBytes: 0,
    txFrames: 0,
    txBytes: 0,
    dropped: { 'queue-full': 0, 'bad-length': 0, closed: 0, injected: 0, malformed: 0, 'send-failed': 0 },
  };
}

/** Ethernet frames without FCS: a 14-byte header at least, 1518 bytes with one VLAN tag at most. */
export const MIN_FRAME = 14;
export const MAX_FRAME = 1518;
