// UDP (RFC 768) on the stack: a table of protocol control blocks by local port,
// input with the checksum (a zero checksum is "none" and accepted, counted),
// output through the stack, and ICMP errors about our datagrams handed to the
// block whose port they quote. Ports are netd's: a block is in the table only once
// netd opened its port for us (get_port / bind_port through a PortService), and
// goes back to netd (close_port) when the block is released.
import { FishnetError } from '../../protocols/errors.ts';
import {
  IPV4_ANY,
  type Ipv4Addr,
  internetChecksum,
  pseudoHeaderSum,
  readU16,
  UdpDatagram,
  writeU16,
} from '../net/index.ts';
import {
  type IcmpErrorReport,
  IP_PROTO_UDP,
  type IpInfo,
  type L4Writer,
  type ProtocolHandler,
  type Stack,
  type TxError,
  type TxRequest,
} from './stack.ts';

/** The most a UDP datagram over IPv4 carries: 65,535 - 20 (IP) - 8 (UDP). */
export const MAX_UDP_PAYLOAD = 65507;
const UDP_HEADER = 8;

/** Where ports come from: netd (netd-client.ts), or a stand-in in tests. */
export interface PortService {
  /** Any free port (netd's get_port). */
  getPort(type: 'udp' | 'tcp'): Promise<number>;
  /** This port (netd's bind_port). */
  bindPort(type: 'udp' | 'tcp', port: number): Promise<void>;
  closePort(type: 'udp' | 'tcp', port: number): Promise<void>;
}

/** An ICMP error about one of a block's datagrams, with what Linux makes of it. */
export interface UdpIcmpError extends IcmpErrorReport {
  readonly dstPort: number;
  /** The errno Linux reports for it (ECONNREFUSED for port unreachable, ...). */
  readonly errno: string;
  /** Linux reports a "hard" error to a connected socket; the others only with IP_RECVERR. */
  readonly fatal: boolean;
}

/** What a block's user hears. */
export interface UdpReceiver {
  /** A datagram: payload at buf[off, off + len), a view valid during the call. */
  datagram(buf: Uint8Array, off: number, len: number, src: Ipv4Addr, srcPort: number, ip: IpInfo): void;
  icmpError(e: UdpIcmpError): void;
}

/** Why a port could not be had, as an errno name, with what netd said. */
export class UdpBindError extends Error {
  constructor(
    readonly errno:
      | 'EADDRINUSE'
      | 'EACCES'
      | 'EADDRNOTAVAIL'
      | 'ENOMEM'
      | 'EMFILE'
      | 'ENETDOWN'
      | 'EIO'
      | 'ECANCELED',
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${errno}: ${detail}`, options);
    this.name = 'UdpBindError';
  }
}

/** A UDP endpoint: its local and (when connected) remote address. */
export class UdpPcb {
  localIp: Ipv4Addr = IPV4_ANY;
  localPort = 0;
  remoteIp: Ipv4Addr = IPV4_ANY;
  /** 0: not connected. */
  remotePort = 0;
  /** May send to broadcast addresses (SO_BROADCAST). */
  broadcast = false;
  ttl: number;
  /** In the table with its port open at netd. */
  bound = false;
  released = false;

  constructor(
    readonly receiver: UdpReceiver,
    ttl: number,
  ) {
    this.ttl = ttl;
  }
}

// Linux's icmp_err_convert (net/ipv4/icmp.c), for destination unreachable codes 0..15:
// the errno, and whether the error is "hard" (reported to a connected socket).
const UNREACH: readonly (readonly [string, boolean])[] = [
  ['ENETUNREACH', false], // net unreachable
  ['EHOSTUNREACH', false], // host unreachable
  ['ENOPROTOOPT', true], // protocol unreachable
  ['ECONNREFUSED', true], // port unreachable
  ['EMSGSIZE', false], // fragmentation needed
  ['EOPNOTSUPP', false], // source route failed
  ['ENETUNREACH', true], // net unknown
  ['EHOSTDOWN', true], // host unknown
  ['ENONET', true], // source host isolated
  ['ENETUNREACH', true], // net prohibited
  ['EHOSTUNREACH', true], // host prohibited
  ['ENETUNREACH', false], // net unreachable for TOS
  ['EHOSTUNREACH', false], // host unreachable for TOS
  ['EHOSTUNREACH', true], // communication prohibited
  ['EHOSTUNREACH', true], // host precedence violation
  ['EHOSTUNREACH', true], // precedence cut-off
];

function icmpErrno(type: number, code: number): readonly [string, boolean] {
  if (type === 3) return UNREACH[code] ?? ['EHOSTUNREACH', false];
  if (type === 12) return ['EPROTO', true]; // parameter problem
  return ['EHOSTUNREACH', false]; // time exceeded
}

function bindErrno(e: unknown): UdpBindError['errno'] {
  if (!(e instanceof FishnetError)) return 'EIO';
  if (e.is('PORT_ERR_IN_USE') || e.is('PORT_ERR_NO_MORE_PORT') || e.is('PORT_ERR_NOT_OWNER'))
    return 'EADDRINUSE';
  if (e.is('RT_ERR_NOT_PRIVILEGED') || e.is('RT_ERR_BAD_CAPABILITY')) return 'EACCES';
  if (e.is('PORT_ERR_NOT_ENOUGH_MEMORY')) return 'ENOMEM';
  // Its share of ports: as a process out of descriptors is told.
  if (e.is('PORT_ERR_QUOTA')) return 'EMFILE';
  if (
    e.is('RT_ERR_PEER_DIED') ||
    e.is('RT_ERR_BINDING_CLOSED') ||
    e.is('RT_ERR_SERVICE_NOT_FOUND') ||
    e.is('RT_ERR_TIMEOUT')
  )
    return 'ENETDOWN';
  return 'EIO';
}

export interface UdpStats {
  /** Datagrams handed to sockets. */
  delivered: number;
  /** Received with a zero checksum (none): accepted. */
  noChecksum: number;
  sent: number;
  /** ICMP errors handed to sockets. */
  icmpErrors: number;
  /** Ports opened at netd, and closed again; close_port calls that failed. */
  portsOpened: number;
  portsClosed: number;
  closeFailed: number;
}

export class Udp implements ProtocolHandler, L4Writer {
  private readonly table = new Map<number, UdpPcb>();
  private readonly view = new UdpDatagram();
  private readonly stats_: UdpStats = {
    delivered: 0,
    noChecksum: 0,
    sent: 0,
    icmpErrors: 0,
    portsOpened: 0,
    portsClosed: 0,
    closeFailed: 0,
  };
  // The datagram being written by output() (see writeL4).
  private curData: Uint8Array | readonly Uint8Array[] | undefined;
  private curSrcPort = 0;
  private curDstPort = 0;
  /** close_port calls not yet answered (close() waits for them). */
  private readonly closing = new Set<Promise<void>>();

  constructor(
    readonly stack: Stack,
    private readonly ports: PortService,
  ) {
    stack.register(IP_PROTO_UDP, this);
  }

  stats(): UdpStats {
    return { ...this.stats_ };
  }

  /** Local ports in use (bound or being bound). */
  get size(): number {
    return this.table.size;
  }

  /**
   * Open a port for `pcb`: `port` 0 takes any (netd's get_port), another asks for
   * that one. `ip` is 0.0.0.0, our address, or a loopback address. Rejects with a
   * UdpBindError.
   */
  async bind(pcb: UdpPcb, port: number, ip: Ipv4Addr): Promise<void> {
    if (pcb.bound || pcb.released) throw new UdpBindError('EIO', 'this block is bound or released already');
    if (ip !== IPV4_ANY && ip !== this.stack.ip && ip >>> 24 !== 127)
      throw new UdpBindError('EADDRNOTAVAIL', `not an address of this stack`);
    if (port !== 0) {
      if (this.table.has(port)) throw new UdpBindError('EADDRINUSE', `port ${port} is open in this stack`);
      // Reserved while netd answers, so that a second bind here fails at once.
      this.table.set(port, pcb);
      try {
        await this.ports.bindPort('udp', port);
      } catch (e) {
        this.table.delete(port);
        throw new UdpBindError(bindErrno(e), `netd refused port ${port}`, { cause: e });
      }
    } else {
      try {
        port = await this.ports.getPort('udp');
      } catch (e) {
        throw new UdpBindError(bindErrno(e), 'netd gave no port', { cause: e });
      }
      if (this.table.has(port)) {
        // netd handed out a port we hold: give it back, and say so.
        this.closePort(port);
        throw new UdpBindError('EIO', `netd gave port ${port}, which this stack already holds`);
      }
      this.table.set(port, pcb);
    }
    this.stats_.portsOpened++;
    if (pcb.released) {
      this.table.delete(port);
      this.closePort(port);
      throw new UdpBindError('ECANCELED', 'released while its port was being opened');
    }
    pcb.localIp = ip;
    pcb.localPort = port;
    pcb.bound = true;
  }

  /** Take `pcb` out of the table and give its port back to netd. */
  release(pcb: UdpPcb): void {
    if (pcb.released) return;
    pcb.released = true;
    if (!pcb.bound) return; // bind() gives it back when netd answers
    pcb.bound = false;
    if (this.table.get(pcb.localPort) === pcb) this.table.delete(pcb.localPort);
    this.closePort(pcb.localPort);
  }

  private closePort(port: number): void {
    const p = this.ports.closePort('udp', port).then(
      () => {
        this.stats_.portsClosed++;
      },
      () => {
        this.stats_.closeFailed++;
      },
    );
    this.closing.add(p);
    void p.finally(() => this.closing.delete(p));
  }

  /** Release every block; resolves when netd has answered every close_port. */
  async close(): Promise<void> {
    for (const pcb of [...this.table.values()]) this.release(pcb);
    await Promise.all([...this.closing]);
  }

  /**
   * Send `data` (one buffer or several, sent as one datagram) from `pcb` to
   * dst:dstPort. Returns why not (nothing sent), or undefined (`req` hears the end).
   */
  send(
    pcb: UdpPcb,
    data: Uint8Array | readonly Uint8Array[],
    dst: Ipv4Addr,
    dstPort: number,
    req?: TxRequest,
  ): TxError | 'EINVAL' | undefined {
    if (!pcb.bound) return 'EINVAL';
    // A block bound to a loopback address reaches only loopback addresses (as in Linux).
    if (pcb.localIp >>> 24 === 127 && dst >>> 24 !== 127 && dst !== IPV4_ANY) return 'EINVAL';
    let len = 0;
    if (data instanceof Uint8Array) len = data.length;
    else for (const d of data) len += d.length;
    if (len > MAX_UDP_PAYLOAD) return 'EMSGSIZE';
    this.curData = data;
    this.curSrcPort = pcb.localPort;
    this.curDstPort = dstPort;
    const err = this.stack.output(IP_PROTO_UDP, dst, UDP_HEADER + len, pcb.ttl, pcb.broadcast, this, req);
    this.curData = undefined;
    if (err === undefined) this.stats_.sent++;
    return err;
  }

  /** @internal the stack asks for the datagram being sent. */
  writeL4(buf: Uint8Array, off: number, len: number, src: Ipv4Addr, dst: Ipv4Addr): void {
    writeU16(buf, off, this.curSrcPort);
    writeU16(buf, off + 2, this.curDstPort);
    writeU16(buf, off + 4, len);
    writeU16(buf, off + 6, 0);
    const data = this.curData!;
    if (data instanceof Uint8Array) buf.set(data, off + UDP_HEADER);
    else {
      let at = off + UDP_HEADER;
      for (const d of data) {
        buf.set(d, at);
        at += d.length;
      }
    }
    const c = internetChecksum(buf, off, len, pseudoHeaderSum(src, dst, IP_PROTO_UDP, len));
    writeU16(buf, off + 6, c === 0 ? 0xffff : c); // 0 would mean "no checksum"
  }

  /** @internal the stack: a UDP datagram for us. */
  input(buf: Uint8Array, off: number, end: number, ip: IpInfo): undefined {
    const v = this.view;
    const why = v.attach(buf, off, end);
    const stack = this.stack;
    if (why !== undefined) return stack.drop(why === 'truncated' ? 'udp-truncated' : 'udp-bad-length');
    if (v.checksum === 0) this.stats_.noChecksum++;
    else if (!v.checksumValid(ip.src, ip.dst)) return stack.drop('udp-bad-checksum');
    const dstPort = v.dstPort;
    const srcPort = v.srcPort;
    const pcb = this.table.get(dstPort);
    if (pcb === undefined || !pcb.bound) {
      stack.drop('udp-no-socket');
      // To ourselves: tell the sender at once, as a host answers with port unreachable.
      if (ip.loopback) this.localUnreachable(ip.src, ip.dst, srcPort, dstPort);
      return;
    }
    if (pcb.localIp !== IPV4_ANY && pcb.localIp !== ip.dst) return stack.drop('udp-address');
    if (pcb.remotePort !== 0 && (pcb.remoteIp !== ip.src || pcb.remotePort !== srcPort))
      return stack.drop('udp-not-from-peer');
    this.stats_.delivered++;
    stack.countDelivered('udp');
    pcb.receiver.datagram(buf, v.payloadOffset, v.payloadLength, ip.src, srcPort, ip);
  }

  /** @internal the stack: an ICMP error quoting a UDP datagram of ours (its header at buf[off, end)). */
  icmpError(report: IcmpErrorReport, buf: Uint8Array, off: number, _end: number): void {
    const srcPort = readU16(buf, off);
    const dstPort = readU16(buf, off + 2);
    this.deliverError(report, srcPort, dstPort);
  }

  private localUnreachable(src: Ipv4Addr, dst: Ipv4Addr, srcPort: number, dstPort: number): void {
    this.deliverError({ type: 3, code: 3, from: dst, src, dst }, srcPort, dstPort);
  }

  private deliverError(report: IcmpErrorReport, srcPort: number, dstPort: number): undefined {
    const pcb = this.table.get(srcPort);
    if (pcb === undefined || !pcb.bound) return this.stack.drop('icmp-no-socket');
    const [errno, fatal] = icmpErrno(report.type, report.code);
    this.stats_.icmpErrors++;
    this.stack.countDelivered('icmp-error');
    pcb.receiver.icmpError({ ...report, dstPort, errno, fatal });
  }
}
