// Ethernet II frames, with 802.1Q / 802.1ad VLAN tags.
import { type Mac, readMac, readU16, writeMac, writeU16 } from './addr.ts';
import type { Invalid } from './invalid.ts';

export const EtherType = { IPV4: 0x0800, ARP: 0x0806, VLAN: 0x8100, QINQ: 0x88a8, IPV6: 0x86dd } as const;
export const ETHERNET_HEADER = 14;
/** Largest frame without FCS: 1500 bytes of payload, a header, and one VLAN tag. */
export const MAX_FRAME = 1518;

/** A view of an Ethernet frame. Reusable: attach() it to each frame in turn (no allocation). */
export class EthernetFrame {
  buf: Uint8Array = new Uint8Array(0);
  len = 0;
  /** Number of VLAN tags (0..2) before the inner ethertype. */
  tags = 0;

  attach(buf: Uint8Array, len = buf.length): Invalid | undefined {
    this.buf = buf;
    this.len = len;
    this.tags = 0;
    if (len < ETHERNET_HEADER || len > buf.length) return 'truncated';
    let at = 12;
    while (this.tags < 2) {
      const t = readU16(buf, at);
      if (t !== EtherType.VLAN && t !== EtherType.QINQ) break;
      if (at + 4 + 2 > len) return 'truncated';
      this.tags++;
      at += 4;
    }
    return undefined;
  }

  get dst(): Mac {
    return readMac(this.buf, 0);
  }

  get src(): Mac {
    return readMac(this.buf, 6);
  }

  /** The ethertype after any VLAN tags. */
  get ethertype(): number {
    return readU16(this.buf, 12 + 4 * this.tags);
  }

  /** The VLAN id (12 bits) of tag i, outermost first. */
  vlanId(i: number): number {
    return readU16(this.buf, 14 + 4 * i) & 0x0fff;
  }

  get payloadOffset(): number {
    return ETHERNET_HEADER + 4 * this.tags;
  }

  get isBroadcast(): boolean {
    return this.dst === 0xffff_ffff_ffff;
  }
}

export interface EthernetFields {
  readonly dst: Mac;
  readonly src: Mac;
  readonly ethertype: number;
  /** VLAN ids, outermost first: the outer one gets 802.1ad (QinQ) when there are two. */
  readonly vlans?: readonly number[];
}

/** Write an Ethernet header at `off`; returns its length (where the payload goes). */
export function writeEthernet(b: Uint8Array, off: number, f: EthernetFields): number {
  writeMac(b, off, f.dst);
  writeMac(b, off + 6, f.src);
  let at = off + 12;
  const vlans = f.vlans ?? [];
  for (const [i, id] of vlans.entries()) {
    writeU16(b, at, vlans.length === 2 && i === 0 ? EtherType.QINQ : EtherType.VLAN);
    writeU16(b, at + 2, id & 0x0fff);
    at += 4;
  }
  writeU16(b, at, f.ethertype);
  return at + 2 - off;
}
