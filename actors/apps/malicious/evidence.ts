// How the malicious client's frames are told apart on the wire. Every frame it makes
// carries a marker and the number of the attempt; a frame with the marker is forged
// when what it claims (source MAC, source IP or ARP sender, UDP source port) is not
// what the attacker legitimately holds, or when it is a later IP fragment (it never
// sends a whole fragmented datagram of its own). Pure: the demo and the tests read
// a pcap back with it.

export const MARKER = new TextEncoder().encode('FISHNET-FORGERY:');

/** What the attacker may send as: the NIC's MAC, the machine's address, its own ports. */
export interface Identity {
  readonly mac: number;
  readonly ip: number;
  readonly ports: readonly number[];
}

export interface Evidence {
  /** The attempt's number, from the frame. */
  readonly attempt: number;
  readonly forged: boolean;
}

function find(frame: Uint8Array): number {
  outer: for (let i = 14; i + MARKER.length < frame.length; i++) {
    for (let k = 0; k < MARKER.length; k++) if (frame[i + k] !== MARKER[k]) continue outer;
    return i + MARKER.length;
  }
  return -1;
}

/** A payload that says "attempt n": the marker and the number. */
export function markPayload(attempt: number, size = 32): Uint8Array {
  const p = new Uint8Array(Math.max(size, MARKER.length + 1));
  p.set(MARKER);
  p[MARKER.length] = attempt;
  return p;
}

const u16 = (f: Uint8Array, at: number) => (f[at]! << 8) | f[at + 1]!;
const u32 = (f: Uint8Array, at: number) => u16(f, at) * 65536 + u16(f, at + 2);
const u48 = (f: Uint8Array, at: number) => u16(f, at) * 2 ** 32 + u32(f, at + 2);

/** undefined for a frame that is not the attacker's; else its attempt and whether it is forged. */
export function examine(frame: Uint8Array, who: Identity): Evidence | undefined {
  const at = find(frame);
  if (at < 0) return undefined;
  const attempt = frame[at]!;
  if (frame.length < 42) return { attempt, forged: true };
  let forged = u48(frame, 6) !== who.mac;
  const type = u16(frame, 12);
  if (type === 0x0806) {
    forged ||= u48(frame, 22) !== who.mac || u32(frame, 28) !== who.ip;
  } else if (type === 0x0800) {
    const ihl = (frame[14]! & 0x0f) * 4;
    const fragOffset = u16(frame, 20) & 0x1fff;
    forged ||= u32(frame, 26) !== who.ip || fragOffset !== 0;
    if (!forged && frame[23] === 17) forged = !who.ports.includes(u16(frame, 14 + ihl));
  } else forged = true;
  return { attempt, forged };
}
