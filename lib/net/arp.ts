// ARP for IPv4 over Ethernet.
import { type Ipv4Addr, type Mac, readMac, readU16, readU32, writeMac, writeU16, writeU32 } from './addr.ts';
import type { Invalid } from './invalid.ts';

export const ArpOp = { REQUEST: 1, REPLY: 2 } as const;
export const ARP_LENGTH = 28;

export class ArpPacket {
  buf: Uint8Array = new Uint8Array(0);
  off = 0;

  attach(buf: Uint8Array, off: number, end = buf.length): Invalid | undefined {
    this.buf = buf;
    this.off = off;
    if (end - off < ARP_LENGTH || end > buf.length) return 'truncated';
    if (
      readU16(buf, off) !== 1 ||
      readU16(buf, off + 2) !== 0x0800 ||
      buf[off + 4] !== 6 ||
      buf[off + 5] !== 4
    ) {
      return 'unsupported';
    }
    return undefined;
  }

  get op(): number {
    return readU16(this.buf, this.off + 6);
  }
  get senderMac(): Mac {
    return readMac(this.buf, this.off + 8);
  }
  get senderIp(): Ipv4Addr {
    return readU32(this.buf, this.off + 14) as Ipv4Addr;
  }
  get targetMac(): Mac {
    return readMac(this.buf, this.off + 18);
  }
  get targetIp(): Ipv4Addr {
    return readU32(this.buf, this.off + 24) as Ipv4Addr;
  }
}

export interface ArpFields {
  readonly op: number;
  readonly senderMac: Mac;
  readonly senderIp: Ipv4Addr;
  readonly targetMac: Mac;
  readonly targetIp: Ipv4Addr;
}

export function writeArp(b: Uint8Array, off: number, f: ArpFields): number {
  writeU16(b, off, 1);
  writeU16(b, off + 2, 0x0800);
  b[off + 4] = 6;
  b[off + 5] = 4;
  writeU16(b, off + 6, f.op);
  writeMac(b, off + 8, f.senderMac);
  writeU32(b, off + 14, f.senderIp);
  writeMac(b, off + 18, f.targetMac);
  writeU32(b, off + 24, f.targetIp);
  return ARP_LENGTH;
}
