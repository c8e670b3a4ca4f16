// The VXLAN header (RFC 7348 section 5): 8 bytes in front of an Ethernet frame
// inside a UDP datagram.
//
//   byte 0     flags: I (0x08) set = the VNI is valid; the other 7 bits reserved
//   bytes 1-3  reserved
//   bytes 4-6  VNI, the 24-bit VXLAN network identifier
//   byte 7     reserved
//
// Reserved bits are sent as zero and, as the RFC says, ignored on receipt.

export const VXLAN_HEADER = 8;
/** The IANA port for VXLAN. */
export const VXLAN_PORT = 4789;
export const VXLAN_FLAG_I = 0x08;
export const MAX_VNI = 0xff_ffff;

/** Why a datagram is not a frame of our VXLAN segment. */
export type VxlanInvalid =
  /** Shorter than the VXLAN header, or the I flag is clear. */
  | 'bad-header'
  /** A valid header for another segment. */
  | 'wrong-vni'
  /** The inner frame is shorter than an Ethernet header or longer than the port carries. */
  | 'bad-length';

/** Write a header for `vni` at `off`; returns its length. */
export function writeVxlanHeader(b: Uint8Array, off: number, vni: number): number {
  b[off] = VXLAN_FLAG_I;
  b[off + 1] = 0;
  b[off + 2] = 0;
  b[off + 3] = 0;
  b[off + 4] = (vni >>> 16) & 0xff;
  b[off + 5] = (vni >>> 8) & 0xff;
  b[off + 6] = vni & 0xff;
  b[off + 7] = 0;
  return VXLAN_HEADER;
}

/** The VNI of a datagram with a header (no check of the flags). */
export function readVni(b: Uint8Array, off = 0): number {
  return (b[off + 4]! << 16) | (b[off + 5]! << 8) | b[off + 6]!;
}

/**
 * Check a received datagram against our segment: undefined when it carries a frame
 * of minFrame..maxFrame bytes (at VXLAN_HEADER) for `vni`, else why not.
 */
export function checkVxlan(
  d: Uint8Array,
  vni: number,
  minFrame: number,
  maxFrame: number,
): VxlanInvalid | undefined {
  if (d.length < VXLAN_HEADER || (d[0]! & VXLAN_FLAG_I) === 0) return 'bad-header';
  if (readVni(d) !== vni) return 'wrong-vni';
  const inner = d.length - VXLAN_HEADER;
  if (inner < minFrame || inner > maxFrame) return 'bad-length';
  return undefined;
}
