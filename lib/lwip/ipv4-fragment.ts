// Fragmenting an IPv4 datagram to fit an MTU (RFC 791 3.2, RFC 815's view of it):
// every fragment but the last carries a multiple of 8 payload bytes, offsets count
// 8-byte units, all share the id, MF is set on all but the last (and on the last
// too when the datagram was itself a non-final fragment). The first fragment keeps
// every option; later ones only those with the copy flag.
//
// fragmentCount() and writeFragment() write each fragment straight into the
// caller's buffer (a pbuf) without allocating; fragmentIpv4() is the convenient
// allocating form.
import { type Invalid, IPV4_HEADER, Ipv4Packet, internetChecksum, writeU16 } from '../net/index.ts';

/** The smallest MTU every IPv4 link must carry (RFC 791): a 60-byte header and 8 bytes. */
export const MIN_MTU = 68;

export type FragmentError =
  | Invalid // the datagram's own header is malformed
  | 'dont-fragment' // larger than the MTU with DF set (the sender should get ICMP "fragmentation needed")
  | 'bad-mtu'; // an MTU outside 68..65535

const view = new Ipv4Packet();
const COPY_FLAG = 0x80;

/**
 * The options with the copy flag, as they go into fragments after the first (before
 * padding): their length, copied into `out` at `at` if given; -1 if malformed.
 */
function copiedOptions(p: Ipv4Packet, out?: Uint8Array, at = 0): number {
  const b = p.buf;
  const end = p.off + p.headerLength;
  let i = p.off + IPV4_HEADER;
  let n = 0;
  while (i < end) {
    const type = b[i]!;
    if (type === 0) break;
    if (type === 1) {
      i++;
      continue;
    }
    if (i + 1 >= end) return -1;
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) return -1;
    if (type & COPY_FLAG) {
      out?.set(b.subarray(i, i + len), at + n);
      n += len;
    }
    i += len;
  }
  return n;
}

interface Plan {
  /** Header lengths: the first fragment's and the others'. */
  hl1: number;
  hl2: number;
  /** Payload bytes per fragment: the first, and each later but the last. */
  d1: number;
  d2: number;
  payload: number;
  count: number;
}

const plan: Plan = { hl1: 0, hl2: 0, d1: 0, d2: 0, payload: 0, count: 0 };

/** Attach `view` to the datagram and fill `plan`; an error, or undefined. */
function prepare(packet: Uint8Array, off: number, end: number, mtu: number): FragmentError | undefined {
  if (!(Number.isInteger(mtu) && mtu >= MIN_MTU && mtu <= 0xffff)) return 'bad-mtu';
  const why = view.attach(packet, off, end);
  if (why !== undefined) return why;
  const copied = copiedOptions(view);
  if (copied < 0) return 'bad-option';
  const total = view.totalLength;
  plan.hl1 = view.headerLength;
  plan.payload = total - plan.hl1;
  // A fragment's data must end within 65,535 bytes of the datagram's start.
  if (view.fragmentOffset + total > 0xffff) return 'bad-total-length';
  if (total <= mtu) {
    plan.count = 1;
    return undefined;
  }
  if (view.dontFragment) return 'dont-fragment';
  plan.hl2 = (IPV4_HEADER + copied + 3) & ~3;
  plan.d1 = ((mtu - plan.hl1) >> 3) << 3;
  plan.d2 = ((mtu - plan.hl2) >> 3) << 3;
  plan.count = plan.payload <= plan.d1 ? 1 : 1 + Math.ceil((plan.payload - plan.d1) / plan.d2);
  return undefined;
}

/** How many fragments the datagram at off..end becomes for `mtu` (1: it fits), or why it cannot be sent. */
export function fragmentCount(
  packet: Uint8Array,
  mtu: number,
  off = 0,
  end = packet.length,
): number | FragmentError {
  const why = prepare(packet, off, end, mtu);
  return why ?? plan.count;
}

/**
 * Write fragment `index` (0-based, below fragmentCount()) of the datagram at off..end
 * into `out` at `outOff`; returns its length (at most `mtu`). Throws a RangeError for
 * an index out of range, a datagram that cannot be fragmented, or too small a buffer.
 */
export function writeFragment(
  packet: Uint8Array,
  mtu: number,
  index: number,
  out: Uint8Array,
  outOff = 0,
  off = 0,
  end = packet.length,
): number {
  const why = prepare(packet, off, end, mtu);
  if (why !== undefined) throw new RangeError(`cannot fragment this datagram: ${why}`);
  if (!(Number.isInteger(index) && index >= 0 && index < plan.count))
    throw new RangeError(`fragment ${index} of ${plan.count}`);
  const { hl1, hl2, d1, d2, payload } = plan;
  if (plan.count === 1) {
    const total = hl1 + payload;
    if (outOff + total > out.length)
      throw new RangeError(`fragment of ${total} bytes does not fit at ${outOff}`);
    out.set(packet.subarray(off, off + total), outOff);
    return total;
  }
  const start = index === 0 ? 0 : d1 + (index - 1) * d2;
  const len = index === 0 ? d1 : Math.min(d2, payload - start);
  const hl = index === 0 ? hl1 : hl2;
  if (outOff + hl + len > out.length)
    throw new RangeError(`fragment of ${hl + len} bytes does not fit at ${outOff}`);
  // The fixed header as it was, then the options this fragment carries.
  out.set(packet.subarray(off, off + IPV4_HEADER), outOff);
  if (index === 0) {
    out.set(packet.subarray(off + IPV4_HEADER, off + hl1), outOff + IPV4_HEADER);
  } else {
    const n = copiedOptions(view, out, outOff + IPV4_HEADER);
    out.fill(0, outOff + IPV4_HEADER + n, outOff + hl2); // end-of-options padding
  }
  out.set(packet.subarray(off + hl1 + start, off + hl1 + start + len), outOff + hl);
  out[outOff] = 0x40 | (hl >> 2);
  writeU16(out, outOff + 2, hl + len);
  const last = index === plan.count - 1;
  const more = !last || view.moreFragments;
  const offset8 = (view.fragmentOffset + start) >> 3;
  writeU16(out, outOff + 6, (more ? 0x2000 : 0) | offset8);
  writeU16(out, outOff + 10, 0);
  writeU16(out, outOff + 10, internetChecksum(out, outOff, hl));
  return hl + len;
}

/** The datagram as fragments for `mtu` (itself, copied, when it fits), or why it cannot be sent. */
export function fragmentIpv4(
  packet: Uint8Array,
  mtu: number,
  off = 0,
  end = packet.length,
): { ok: true; fragments: Uint8Array[] } | { ok: false; error: FragmentError } {
  const n = fragmentCount(packet, mtu, off, end);
  if (typeof n === 'string') return { ok: false, error: n };
  const fragments: Uint8Array[] = [];
  const scratch = new Uint8Array(Math.min(mtu, 0xffff));
  for (let i = 0; i < n; i++) {
    const len = writeFragment(packet, mtu, i, scratch, 0, off, end);
    fragments.push(scratch.slice(0, len));
  }
  return { ok: true, fragments };
}
