// netd's port filters, made fast. Every port of one type on one address has the
// same RX and TX filter but for the port number, and compiling a filter pair from
// its expression costs ~200 µs here. So netd compiles each pair once, with a
// sentinel port, finds where the port lies in the bytecode (a 16-bit immediate),
// and makes a port's filters by copying the template and writing its number there.
// Two sentinels are compiled to be sure the port is the only difference; the driver
// verifies whatever it is handed anyway.

import { compileFilter, icmpErrorRxFilter, portRxFilter, portTxFilter } from '../../lib/bfdmux/index.ts';
import { type Ipv4Addr, type Mac, port as portOf } from '../../lib/net/index.ts';
import type { PortType } from './ports.ts';

const INT16 = 0x62;
const A = 0x1234;
const B = 0x5678;

interface Template {
  readonly code: Uint8Array;
  /** Offset of the port's little-endian 16-bit immediate. */
  readonly at: number;
}

function immediateAt(code: Uint8Array, v: number): number[] {
  const out: number[] = [];
  for (let i = 0; i + 2 < code.length; i++) {
    if (code[i] === INT16 && code[i + 1] === (v & 0xff) && code[i + 2] === v >>> 8) out.push(i + 1);
  }
  return out;
}

/** The template of one filter, or undefined if the port cannot be told apart (then compile each). */
function template(build: (port: number) => string): Template | undefined {
  const a = compileFilter(build(A)).code;
  const b = compileFilter(build(B)).code;
  const at = immediateAt(a, A);
  if (a.length !== b.length || at.length !== 1 || immediateAt(b, B)[0] !== at[0]) return undefined;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && i !== at[0] && i !== at[0]! + 1) return undefined;
  return { code: a, at: at[0]! };
}

function fill(t: Template | undefined, build: (port: number) => string, port: number): Uint8Array {
  if (!t) return compileFilter(build(port)).code;
  const code = t.code.slice();
  code[t.at] = port & 0xff;
  code[t.at + 1] = port >>> 8;
  return code;
}

export class FilterTemplates {
  private readonly cache = new Map<
    string,
    { rx: Template | undefined; tx: Template | undefined; icmp: Template | undefined }
  >();

  constructor(private readonly mac: Mac) {}

  /**
   * A port's filter code: RX, TX, and the RX filter for the ICMP errors that quote
   * its datagrams. UDP ports also take broadcasts (DHCP servers, discovery): to
   * 255.255.255.255 and, given, to the subnet's directed broadcast, as a socket bound to
   * the wildcard address on Linux does.
   */
  filters(
    kind: PortType,
    ip: Ipv4Addr,
    port: number,
    subnetBroadcast?: Ipv4Addr,
  ): { rx: Uint8Array; tx: Uint8Array; icmp: Uint8Array } {
    const udp = kind === 'udp';
    const rx = (p: number) =>
      portRxFilter({
        mac: this.mac,
        ip,
        type: kind,
        port: portOf(p),
        broadcast: udp,
        subnetBroadcast: udp ? subnetBroadcast : undefined,
      });
    const tx = (p: number) => portTxFilter({ mac: this.mac, ip, type: kind, port: portOf(p) });
    const icmp = (p: number) => icmpErrorRxFilter({ mac: this.mac, ip, type: kind, port: portOf(p) });
    const key = `${kind}/${ip}/${subnetBroadcast ?? '-'}`;
    let t = this.cache.get(key);
    if (!t) {
      t = { rx: template(rx), tx: template(tx), icmp: template(icmp) };
      this.cache.set(key, t);
    }
    return { rx: fill(t.rx, rx, port), tx: fill(t.tx, tx, port), icmp: fill(t.icmp, icmp, port) };
  }
}
