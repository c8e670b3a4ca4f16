// DHCP messages (RFC 2131) and their options (RFC 2132): a view that checks the
// bytes once in attach() and then reads fields and options on demand, and a builder.
//
// Layout: a 236-byte BOOTP header, the magic cookie 99.130.83.99, then options as
// code, length, data; 0 is a one-byte pad, 255 ends them. Option 52 ("overload")
// says the file and/or sname fields hold more options (file first, then sname).
import { type Ipv4Addr, type Mac, readMac, readU16, readU32, writeMac, writeU16, writeU32 } from './addr.ts';
import type { Invalid } from './invalid.ts';

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
export const DHCP_MAGIC = 0x63825363;
/** The fixed BOOTP header, before the magic cookie. */
export const BOOTP_HEADER = 236;
/** Where the options start: header and cookie. */
export const DHCP_OPTIONS_OFFSET = 240;
/** Messages are padded to the BOOTP minimum (RFC 1542 2.1): some relays drop shorter ones. */
export const DHCP_MIN_LENGTH = 300;

export const DhcpOp = { BOOTREQUEST: 1, BOOTREPLY: 2 } as const;
export const HTYPE_ETHERNET = 1;

export const DhcpMessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type DhcpMessageType = (typeof DhcpMessageType)[keyof typeof DhcpMessageType];

const TYPE_NAMES = ['', 'DISCOVER', 'OFFER', 'REQUEST', 'DECLINE', 'ACK', 'NAK', 'RELEASE', 'INFORM'];
/** "DISCOVER", ..., or "type 42" for one RFC 2131 does not define. */
export function dhcpTypeName(t: number | undefined): string {
  if (t === undefined) return 'no type';
  return TYPE_NAMES[t] || `type ${t}`;
}

export const DhcpOption = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS: 6,
  HOST_NAME: 12,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAMETER_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_TIME: 58,
  REBINDING_TIME: 59,
  CLIENT_ID: 61,
  END: 255,
} as const;

/** A lease time meaning "for ever" (RFC 2131 3.3). */
export const INFINITE_LEASE = 0xffff_ffff;
const BROADCAST_FLAG = 0x8000;

// Offsets in the BOOTP header.
const XID = 4;
const SECS = 8;
const FLAGS = 10;
const CIADDR = 12;
const YIADDR = 16;
const SIADDR = 20;
const GIADDR = 24;
const CHADDR = 28;
const SNAME = 44;
const SNAME_LEN = 64;
const FILE = 108;
const FILE_LEN = 128;

/** Whether `len` is a length option `code` can have; options this file does not know may have any length. */
function lengthFits(code: number, len: number): boolean {
  switch (code) {
    case DhcpOption.SUBNET_MASK:
    case DhcpOption.REQUESTED_IP:
    case DhcpOption.LEASE_TIME:
    case DhcpOption.SERVER_ID:
    case DhcpOption.RENEWAL_TIME:
    case DhcpOption.REBINDING_TIME:
      return len === 4;
    case DhcpOption.ROUTER:
    case DhcpOption.DNS:
      return len >= 4 && len % 4 === 0;
    case DhcpOption.OVERLOAD:
    case DhcpOption.MESSAGE_TYPE:
      return len === 1;
    case DhcpOption.MAX_MESSAGE_SIZE:
      return len === 2;
    case DhcpOption.CLIENT_ID:
      return len >= 2;
    case DhcpOption.HOST_NAME:
    case DhcpOption.PARAMETER_REQUEST_LIST:
    case DhcpOption.MESSAGE:
      return len >= 1;
    default:
      return true;
  }
}

const latin1 = new TextDecoder('latin1');

/**
 * A view of a DHCP message. Reusable: attach() it to each message in turn. attach()
 * walks the options once to check them; afterwards every getter is safe on any
 * bytes, and options are found by walking again (they are few and short), so a
 * parse allocates nothing. The view keeps a reference to the bytes: copy what you
 * keep past the next attach().
 *
 * Where an option appears more than once, the first one counts (RFC 3396's
 * concatenation of split options is not done).
 */
export class DhcpMessage {
  buf: Uint8Array = new Uint8Array(0);
  off = 0;
  /** End of the message (the UDP payload's end). */
  end = 0;
  /** Option 52's value: 1 = file holds options, 2 = sname does, 3 = both. */
  private overload = 0;

  /** Check the message at `off`..`end` (the UDP payload); undefined when it is valid. */
  attach(buf: Uint8Array, off = 0, end = buf.length): Invalid | undefined {
    this.buf = buf;
    this.off = off;
    this.end = end;
    this.overload = 0;
    if (end > buf.length || off < 0 || end - off < DHCP_OPTIONS_OFFSET) return 'truncated';
    if (readU32(buf, off + BOOTP_HEADER) !== DHCP_MAGIC) return 'bad-magic';
    if (buf[off + 2]! > 16) return 'bad-hardware-length';
    const main = this.check(off + DHCP_OPTIONS_OFFSET, end, true);
    if (main !== undefined) return main;
    const at = this.scan(off + DHCP_OPTIONS_OFFSET, end, DhcpOption.OVERLOAD);
    if (at >= 0) {
      const v = buf[at]!;
      if (v < 1 || v > 3) return 'bad-option';
      this.overload = v;
      // Options spilled into file and sname need no end option of their own: the field's end ends them.
      if (v & 1) {
        const r = this.check(off + FILE, off + FILE + FILE_LEN, false);
        if (r !== undefined) return r;
      }
      if (v & 2) {
        const r = this.check(off + SNAME, off + SNAME + SNAME_LEN, false);
        if (r !== undefined) return r;
      }
    }
    return undefined;
  }

  /** Walk options in [i, end) and check each one's length. */
  private check(i: number, end: number, needEnd: boolean): Invalid | undefined {
    const b = this.buf;
    while (i < end) {
      const code = b[i]!;
      if (code === DhcpOption.END) return undefined;
      if (code === DhcpOption.PAD) {
        i++;
        continue;
      }
      if (i + 1 >= end) return 'bad-option';
      const len = b[i + 1]!;
      if (i + 2 + len > end) return 'bad-option';
      if (!lengthFits(code, len)) return 'bad-option-length';
      i += 2 + len;
    }
    return needEnd ? 'missing-end' : undefined;
  }

  /** The offset of option `code`'s data in [i, end), or -1. Assumes check() passed. */
  private scan(i: number, end: number, code: number): number {
    const b = this.buf;
    while (i < end) {
      const c = b[i]!;
      if (c === DhcpOption.END) return -1;
      if (c === DhcpOption.PAD) {
        i++;
        continue;
      }
      if (c === code) return i + 2;
      i += 2 + b[i + 1]!;
    }
    return -1;
  }

  /** The offset of option `code`'s data in the message bytes, or -1 when it is absent. Its length is buf[at - 1]. */
  findOption(code: number): number {
    const o = this.off;
    let at = this.scan(o + DHCP_OPTIONS_OFFSET, this.end, code);
    if (at < 0 && this.overload & 1) at = this.scan(o + FILE, o + FILE + FILE_LEN, code);
    if (at < 0 && this.overload & 2) at = this.scan(o + SNAME, o + SNAME + SNAME_LEN, code);
    return at;
  }

  /** Option `code`'s data (a view, not a copy), or undefined. */
  option(code: number): Uint8Array | undefined {
    const at = this.findOption(code);
    return at < 0 ? undefined : this.buf.subarray(at, at + this.buf[at - 1]!);
  }

  hasOption(code: number): boolean {
    return this.findOption(code) >= 0;
  }

  /** Every option in order (pads and end left out), for tools and tests; allocates. */
  options(): { code: number; data: Uint8Array }[] {
    const out: { code: number; data: Uint8Array }[] = [];
    const o = this.off;
    const walk = (i: number, end: number) => {
      const b = this.buf;
      while (i < end) {
        const c = b[i]!;
        if (c === DhcpOption.END) return;
        if (c === DhcpOption.PAD) {
          i++;
          continue;
        }
        out.push({ code: c, data: b.subarray(i + 2, i + 2 + b[i + 1]!) });
        i += 2 + b[i + 1]!;
      }
    };
    walk(o + DHCP_OPTIONS_OFFSET, this.end);
    if (this.overload & 1) walk(o + FILE, o + FILE + FILE_LEN);
    if (this.overload & 2) walk(o + SNAME, o + SNAME + SNAME_LEN);
    return out;
  }

  get op(): number {
    return this.buf[this.off]!;
  }
  get htype(): number {
    return this.buf[this.off + 1]!;
  }
  get hlen(): number {
    return this.buf[this.off + 2]!;
  }
  get hops(): number {
    return this.buf[this.off + 3]!;
  }
  get xid(): number {
    return readU32(this.buf, this.off + XID);
  }
  get secs(): number {
    return readU16(this.buf, this.off + SECS);
  }
  get flags(): number {
    return readU16(this.buf, this.off + FLAGS);
  }
  /** The client cannot receive unicast before it is configured: answer by broadcast. */
  get broadcast(): boolean {
    return (this.flags & BROADCAST_FLAG) !== 0;
  }
  get ciaddr(): Ipv4Addr {
    return readU32(this.buf, this.off + CIADDR) as Ipv4Addr;
  }
  get yiaddr(): Ipv4Addr {
    return readU32(this.buf, this.off + YIADDR) as Ipv4Addr;
  }
  get siaddr(): Ipv4Addr {
    return readU32(this.buf, this.off + SIADDR) as Ipv4Addr;
  }
  get giaddr(): Ipv4Addr {
    return readU32(this.buf, this.off + GIADDR) as Ipv4Addr;
  }
  /** The first 6 bytes of chaddr as a MAC (meaningful for htype 1, hlen 6). */
  get chaddr(): Mac {
    return readMac(this.buf, this.off + CHADDR);
  }
  /** The hlen meaningful bytes of chaddr (a view). */
  get chaddrBytes(): Uint8Array {
    return this.buf.subarray(this.off + CHADDR, this.off + CHADDR + this.hlen);
  }
  /** Server host name (up to the first NUL); '' when the field carries options. */
  get sname(): string {
    return this.overload & 2 ? '' : this.cString(this.off + SNAME, SNAME_LEN);
  }
  /** Boot file name (up to the first NUL); '' when the field carries options. */
  get file(): string {
    return this.overload & 1 ? '' : this.cString(this.off + FILE, FILE_LEN);
  }
  get magicCookie(): number {
    return readU32(this.buf, this.off + BOOTP_HEADER);
  }

  private cString(at: number, len: number): string {
    let n = 0;
    while (n < len && this.buf[at + n] !== 0) n++;
    return latin1.decode(this.buf.subarray(at, at + n));
  }

  private u32Option(code: number): number | undefined {
    const at = this.findOption(code);
    return at < 0 ? undefined : readU32(this.buf, at);
  }

  private addrList(code: number): Ipv4Addr[] {
    const at = this.findOption(code);
    if (at < 0) return [];
    const out: Ipv4Addr[] = [];
    for (let i = 0; i < this.buf[at - 1]!; i += 4) out.push(readU32(this.buf, at + i) as Ipv4Addr);
    return out;
  }

  private textOption(code: number): string | undefined {
    const d = this.option(code);
    return d && latin1.decode(d);
  }

  /** Option 53, or undefined when absent (then it is BOOTP, not DHCP). */
  get messageType(): number | undefined {
    const at = this.findOption(DhcpOption.MESSAGE_TYPE);
    return at < 0 ? undefined : this.buf[at]!;
  }
  get requestedIp(): Ipv4Addr | undefined {
    return this.u32Option(DhcpOption.REQUESTED_IP) as Ipv4Addr | undefined;
  }
  /** Seconds; INFINITE_LEASE means for ever. */
  get leaseTime(): number | undefined {
    return this.u32Option(DhcpOption.LEASE_TIME);
  }
  get serverId(): Ipv4Addr | undefined {
    return this.u32Option(DhcpOption.SERVER_ID) as Ipv4Addr | undefined;
  }
  get subnetMask(): Ipv4Addr | undefined {
    return this.u32Option(DhcpOption.SUBNET_MASK) as Ipv4Addr | undefined;
  }
  /** T1, seconds. */
  get renewalTime(): number | undefined {
    return this.u32Option(DhcpOption.RENEWAL_TIME);
  }
  /** T2, seconds. */
  get rebindingTime(): number | undefined {
    return this.u32Option(DhcpOption.REBINDING_TIME);
  }
  get maxMessageSize(): number | undefined {
    const at = this.findOption(DhcpOption.MAX_MESSAGE_SIZE);
    return at < 0 ? undefined : readU16(this.buf, at);
  }
  /** The routers, in order of preference (allocates). */
  routers(): Ipv4Addr[] {
    return this.addrList(DhcpOption.ROUTER);
  }
  /** The first router, without allocating. */
  get router(): Ipv4Addr | undefined {
    return this.u32Option(DhcpOption.ROUTER) as Ipv4Addr | undefined;
  }
  dnsServers(): Ipv4Addr[] {
    return this.addrList(DhcpOption.DNS);
  }
  get parameterRequestList(): Uint8Array | undefined {
    return this.option(DhcpOption.PARAMETER_REQUEST_LIST);
  }
  /** Option 61: a type byte, then the identifier (a view). */
  get clientId(): Uint8Array | undefined {
    return this.option(DhcpOption.CLIENT_ID);
  }
  get hostName(): string | undefined {
    return this.textOption(DhcpOption.HOST_NAME);
  }
  /** Option 56: the server's reason for a NAK, or the client's for a DECLINE. */
  get message(): string | undefined {
    return this.textOption(DhcpOption.MESSAGE);
  }
}

export interface DhcpFields {
  readonly op: number;
  /** Default 1 (Ethernet). */
  readonly htype?: number;
  /** Default 6 for a MAC chaddr, else the length of the bytes. */
  readonly hlen?: number;
  readonly hops?: number;
  readonly xid: number;
  readonly secs?: number;
  /** The broadcast flag; `flags` gives the whole field instead. */
  readonly broadcast?: boolean;
  readonly flags?: number;
  readonly ciaddr?: Ipv4Addr;
  readonly yiaddr?: Ipv4Addr;
  readonly siaddr?: Ipv4Addr;
  readonly giaddr?: Ipv4Addr;
  /** A MAC, or up to 16 bytes of another hardware address. */
  readonly chaddr: Mac | Uint8Array;
  readonly sname?: string;
  readonly file?: string;
  readonly messageType?: number;
  readonly requestedIp?: Ipv4Addr;
  readonly leaseTime?: number;
  readonly serverId?: Ipv4Addr;
  readonly subnetMask?: Ipv4Addr;
  readonly routers?: readonly Ipv4Addr[];
  readonly dns?: readonly Ipv4Addr[];
  readonly renewalTime?: number;
  readonly rebindingTime?: number;
  readonly parameterRequestList?: readonly number[];
  readonly maxMessageSize?: number;
  /** Option 61, whole: a type byte (1 for Ethernet), then the identifier. */
  readonly clientId?: Uint8Array;
  readonly hostName?: string;
  readonly message?: string;
  /** Other options, written after the ones above, in order. */
  readonly options?: readonly { readonly code: number; readonly data: Uint8Array }[];
}

function ascii(what: string, s: string, max: number): void {
  if (s.length > max) throw new RangeError(`DHCP ${what} is ${s.length} characters; at most ${max} fit`);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e)
      throw new RangeError(`DHCP ${what} '${s}' has a character that is not printable ASCII at ${i}`);
  }
}

function u32(what: string, v: number): void {
  if (!(Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff))
    throw new RangeError(`DHCP ${what} ${v} is not a 32-bit unsigned integer`);
}

/** The option bytes `f` asks for (code, length, data each), without the end option. */
function optionsLength(f: DhcpFields): number {
  let n = 0;
  if (f.messageType !== undefined) n += 3;
  for (const v of [f.requestedIp, f.leaseTime, f.serverId, f.subnetMask, f.renewalTime, f.rebindingTime])
    if (v !== undefined) n += 6;
  if (f.routers?.length) n += 2 + 4 * f.routers.length;
  if (f.dns?.length) n += 2 + 4 * f.dns.length;
  if (f.parameterRequestList?.length) n += 2 + f.parameterRequestList.length;
  if (f.maxMessageSize !== undefined) n += 4;
  if (f.clientId) n += 2 + f.clientId.length;
  if (f.hostName !== undefined) n += 2 + f.hostName.length;
  if (f.message !== undefined) n += 2 + f.message.length;
  for (const o of f.options ?? []) n += 2 + o.data.length;
  return n;
}

/** Bytes writeDhcp() writes for `f`: header, cookie, options, end, padded to DHCP_MIN_LENGTH. */
export function dhcpLength(f: DhcpFields): number {
  return Math.max(DHCP_MIN_LENGTH, DHCP_OPTIONS_OFFSET + optionsLength(f) + 1);
}

/**
 * Write a DHCP message at `off`; returns its length (dhcpLength(f)). Throws a
 * RangeError naming the field for values that cannot be encoded (an option over
 * 255 bytes, a 40-byte chaddr, a non-ASCII host name).
 */
export function writeDhcp(b: Uint8Array, off: number, f: DhcpFields): number {
  const len = dhcpLength(f);
  if (off + len > b.length) throw new RangeError(`DHCP message of ${len} bytes does not fit at ${off}`);
  const hw = typeof f.chaddr === 'number' ? undefined : f.chaddr;
  if (hw && hw.length > 16) throw new RangeError(`DHCP chaddr of ${hw.length} bytes; at most 16 fit`);
  const hlen = f.hlen ?? (hw ? hw.length : 6);
  if (!(Number.isInteger(hlen) && hlen >= 0 && hlen <= 16))
    throw new RangeError(`DHCP hlen ${hlen} is not 0..16`);
  u32('xid', f.xid);
  if (f.sname !== undefined) ascii('sname', f.sname, SNAME_LEN - 1);
  if (f.file !== undefined) ascii('file', f.file, FILE_LEN - 1);
  if (f.hostName !== undefined) ascii('host name', f.hostName, 255);
  if (f.message !== undefined) ascii('message', f.message, 255);
  if (f.hostName === '') throw new RangeError('DHCP host name is empty (option 12 needs at least one byte)');
  if (f.message === '') throw new RangeError('DHCP message is empty (option 56 needs at least one byte)');
  if ((f.routers?.length ?? 0) > 63 || (f.dns?.length ?? 0) > 63)
    throw new RangeError('DHCP router or DNS list longer than 63 addresses');
  if ((f.parameterRequestList?.length ?? 0) > 255 || (f.clientId?.length ?? 0) > 255)
    throw new RangeError('DHCP parameter request list or client identifier over 255 bytes');
  if (f.clientId && f.clientId.length < 2)
    throw new RangeError('DHCP client identifier needs a type byte and at least one byte of identifier');
  const byte = (what: string, v: number) => {
    if (!(Number.isInteger(v) && v >= 0 && v <= 255)) throw new RangeError(`DHCP ${what} ${v} is not a byte`);
  };
  byte('op', f.op);
  byte('htype', f.htype ?? HTYPE_ETHERNET);
  byte('hops', f.hops ?? 0);
  if (f.messageType !== undefined) byte('message type', f.messageType);
  for (const c of f.parameterRequestList ?? []) byte('parameter request list entry', c);
  if (
    f.maxMessageSize !== undefined &&
    !(Number.isInteger(f.maxMessageSize) && f.maxMessageSize >= 576 && f.maxMessageSize <= 0xffff)
  )
    throw new RangeError(`DHCP maximum message size ${f.maxMessageSize} is not 576..65535`);
  for (const o of f.options ?? []) {
    if (!(Number.isInteger(o.code) && o.code >= 1 && o.code <= 254))
      throw new RangeError(`DHCP option code ${o.code} is not 1..254`);
    if (o.data.length > 255)
      throw new RangeError(`DHCP option ${o.code} has ${o.data.length} bytes; at most 255`);
  }

  b.fill(0, off, off + len);
  b[off] = f.op;
  b[off + 1] = f.htype ?? HTYPE_ETHERNET;
  b[off + 2] = hlen;
  b[off + 3] = f.hops ?? 0;
  writeU32(b, off + XID, f.xid);
  writeU16(b, off + SECS, Math.min(f.secs ?? 0, 0xffff));
  writeU16(b, off + FLAGS, f.flags ?? (f.broadcast ? BROADCAST_FLAG : 0));
  writeU32(b, off + CIADDR, f.ciaddr ?? 0);
  writeU32(b, off + YIADDR, f.yiaddr ?? 0);
  writeU32(b, off + SIADDR, f.siaddr ?? 0);
  writeU32(b, off + GIADDR, f.giaddr ?? 0);
  if (hw) b.set(hw, off + CHADDR);
  else writeMac(b, off + CHADDR, f.chaddr as Mac);
  if (f.sname) for (let i = 0; i < f.sname.length; i++) b[off + SNAME + i] = f.sname.charCodeAt(i);
  if (f.file) for (let i = 0; i < f.file.length; i++) b[off + FILE + i] = f.file.charCodeAt(i);
  writeU32(b, off + BOOTP_HEADER, DHCP_MAGIC);

  let at = off + DHCP_OPTIONS_OFFSET;
  const head = (code: number, n: number) => {
    b[at] = code;
    b[at + 1] = n;
    at += 2;
  };
  const word = (code: number, what: string, v: number | undefined) => {
    if (v === undefined) return;
    u32(what, v);
    head(code, 4);
    writeU32(b, at, v);
    at += 4;
  };
  const list = (code: number, what: string, vs: readonly number[] | undefined) => {
    if (!vs?.length) return;
    head(code, 4 * vs.length);
    for (const v of vs) {
      u32(what, v);
      writeU32(b, at, v);
      at += 4;
    }
  };
  const text = (code: number, s: string | undefined) => {
    if (s === undefined) return;
    head(code, s.length);
    for (let i = 0; i < s.length; i++) b[at + i] = s.charCodeAt(i);
    at += s.length;
  };
  // Message type first, as RFC 2131 4.1 hopes and most implementations expect.
  if (f.messageType !== undefined) {
    head(DhcpOption.MESSAGE_TYPE, 1);
    b[at++] = f.messageType;
  }
  word(DhcpOption.SERVER_ID, 'server identifier', f.serverId);
  word(DhcpOption.REQUESTED_IP, 'requested address', f.requestedIp);
  word(DhcpOption.LEASE_TIME, 'lease time', f.leaseTime);
  word(DhcpOption.RENEWAL_TIME, 'renewal time (T1)', f.renewalTime);
  word(DhcpOption.REBINDING_TIME, 'rebinding time (T2)', f.rebindingTime);
  word(DhcpOption.SUBNET_MASK, 'subnet mask', f.subnetMask);
  list(DhcpOption.ROUTER, 'router', f.routers);
  list(DhcpOption.DNS, 'DNS server', f.dns);
  if (f.parameterRequestList?.length) {
    head(DhcpOption.PARAMETER_REQUEST_LIST, f.parameterRequestList.length);
    for (const c of f.parameterRequestList) b[at++] = c;
  }
  if (f.maxMessageSize !== undefined) {
    head(DhcpOption.MAX_MESSAGE_SIZE, 2);
    writeU16(b, at, f.maxMessageSize);
    at += 2;
  }
  if (f.clientId) {
    head(DhcpOption.CLIENT_ID, f.clientId.length);
    b.set(f.clientId, at);
    at += f.clientId.length;
  }
  text(DhcpOption.HOST_NAME, f.hostName);
  text(DhcpOption.MESSAGE, f.message);
  for (const o of f.options ?? []) {
    head(o.code, o.data.length);
    b.set(o.data, at);
    at += o.data.length;
  }
  b[at] = DhcpOption.END;
  return len;
}

/** A new buffer holding the message for `f`. */
export function buildDhcp(f: DhcpFields): Uint8Array {
  const b = new Uint8Array(dhcpLength(f));
  writeDhcp(b, 0, f);
  return b;
}

/** Client identifier option data for an Ethernet MAC: type 1, then the six bytes. */
export function ethernetClientId(m: Mac): Uint8Array {
  const b = new Uint8Array(7);
  b[0] = HTYPE_ETHERNET;
  writeMac(b, 1, m);
  return b;
}
