// Addresses and ports as types that say what they are. A MAC is a 48-bit number
// (first octet most significant), an IPv4 address a 32-bit number, a port 16 bits.

export type Mac = number & { readonly __kind: 'mac' };
export type Ipv4Addr = number & { readonly __kind: 'ipv4' };
export type Port = number & { readonly __kind: 'port' };

export const BROADCAST_MAC = 0xffff_ffff_ffff as Mac;
export const IPV4_ANY = 0 as Ipv4Addr;
export const IPV4_BROADCAST = 0xffff_ffff as Ipv4Addr;

/** Parse "aa:bb:cc:dd:ee:ff" (or with '-'). Throws a TypeError naming the bad part. */
export function mac(text: string): Mac {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6)
    throw new TypeError(`bad MAC address '${text}': expected 6 octets, got ${parts.length}`);
  let v = 0;
  for (const [i, p] of parts.entries()) {
    if (!/^[0-9a-fA-F]{1,2}$/.test(p))
      throw new TypeError(`bad MAC address '${text}': octet ${i + 1} is '${p}'`);
    v = v * 256 + Number.parseInt(p, 16);
  }
  return v as Mac;
}

export function isMac(v: unknown): v is Mac {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff_ffff;
}

export function formatMac(m: Mac): string {
  const out: string[] = [];
  for (let i = 5; i >= 0; i--) out.push((Math.floor(m / 2 ** (8 * i)) % 256).toString(16).padStart(2, '0'));
  return out.join(':');
}

export function readMac(b: Uint8Array, off: number): Mac {
  return (((b[off]! << 8) | b[off + 1]!) * 0x1_0000_0000 +
    (((b[off + 2]! << 24) | (b[off + 3]! << 16) | (b[off + 4]! << 8) | b[off + 5]!) >>> 0)) as Mac;
}

export function writeMac(b: Uint8Array, off: number, m: Mac): void {
  const hi = Math.floor(m / 0x1_0000_0000);
  const lo = m >>> 0;
  b[off] = hi >>> 8;
  b[off + 1] = hi & 0xff;
  writeU32(b, off + 2, lo);
}

/** Parse dotted-quad "10.0.0.1". Throws a TypeError naming the bad part. */
export function ipv4(text: string): Ipv4Addr {
  const parts = text.split('.');
  if (parts.length !== 4)
    throw new TypeError(`bad IPv4 address '${text}': expected 4 parts, got ${parts.length}`);
  let v = 0;
  for (const [i, p] of parts.entries()) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) {
      throw new TypeError(`bad IPv4 address '${text}': part ${i + 1} is '${p}'`);
    }
    v = v * 256 + Number(p);
  }
  return v as Ipv4Addr;
}

export function isIpv4(v: unknown): v is Ipv4Addr {
  return typeof v === 'number' && v >>> 0 === v;
}

export function formatIpv4(a: Ipv4Addr): string {
  return `${a >>> 24}.${(a >>> 16) & 0xff}.${(a >>> 8) & 0xff}.${a & 0xff}`;
}

/**
 * The directed broadcast of `ip`'s subnet (host bits all ones); none without an
 * address, or on a /31 or /32, which have no broadcast (RFC 3021).
 */
export function directedBroadcast(ip: Ipv4Addr, mask: Ipv4Addr): Ipv4Addr | undefined {
  if (ip === 0 || mask >>> 0 >= 0xfffffffe) return undefined;
  return (((ip & mask) | ~mask) >>> 0) as Ipv4Addr;
}

export function port(n: number): Port {
  if (!(Number.isInteger(n) && n >= 0 && n <= 0xffff))
    throw new TypeError(`bad port ${n}: a port is 0..65535`);
  return n as Port;
}

export function isPort(v: unknown): v is Port {
  return typeof v === 'number' && (v & 0xffff) === v;
}

// Big-endian field access, shared by the views.
export function readU16(b: Uint8Array, off: number): number {
  return (b[off]! << 8) | b[off + 1]!;
}

export function readU32(b: Uint8Array, off: number): number {
  return ((b[off]! << 24) | (b[off + 1]! << 16) | (b[off + 2]! << 8) | b[off + 3]!) >>> 0;
}

export function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

/** Group bit of the first octet: multicast and broadcast MACs have it. */
export function isMulticastMac(m: Mac): boolean {
  return Math.floor(m / 0x100_0000_0000) % 2 === 1;
}

/**
 * An address a host may have: not 0.0.0.0/8 ("this network"), not loopback
 * 127/8, not multicast 224/4, not reserved 240/4 or the limited broadcast.
 */
export function isHostIpv4(a: Ipv4Addr): boolean {
  const top = a >>> 24;
  return top !== 0 && top !== 127 && top < 224;
}

/** A subnet mask: ones, then zeros (0.0.0.0 and 255.255.255.255 included). */
export function isContiguousMask(m: Ipv4Addr): boolean {
  const inv = ~m >>> 0;
  return (inv & (inv + 1)) === 0;
}

/** The number of leading one bits of a contiguous mask (24 for 255.255.255.0). */
export function prefixLength(m: Ipv4Addr): number {
  return Math.clz32(~m >>> 0);
}

/** The pre-CIDR mask of an address's class (A /8, B /16, C /24): RFC 2131's fallback when a server sends none. */
export function classfulMask(a: Ipv4Addr): Ipv4Addr {
  const top = a >>> 24;
  return (top < 128 ? 0xff00_0000 : top < 192 ? 0xffff_0000 : 0xffff_ff00) as Ipv4Addr;
}

/** The network address of `a` under `mask`. */
export function networkOf(a: Ipv4Addr, mask: Ipv4Addr): Ipv4Addr {
  return ((a & mask) >>> 0) as Ipv4Addr;
}

/** The directed broadcast address of `a`'s subnet. */
export function subnetBroadcast(a: Ipv4Addr, mask: Ipv4Addr): Ipv4Addr {
  return (((a & mask) | ~mask) >>> 0) as Ipv4Addr;
}
