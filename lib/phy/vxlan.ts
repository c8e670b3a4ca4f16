// A VXLAN tunnel end point (RFC 7348) as a FramePort: Ethernet frames travel in UDP
// datagrams (node:dgram, IPv4) to one remote end point, which may be another fishnet
// process or a Linux `vxlan` device.
//
// Sending: node:dgram keeps the buffer it is given until its send callback runs (a
// later tick even when the kernel took the datagram at once), so every datagram is
// built in a buffer of its own from a pool; a buffer returns to the pool from its
// callback. The pool is the port's queue: when every buffer is in flight, a frame
// is dropped ('queue-full'), never queued without bound in libuv. Buffers carry the
// VXLAN header written once; a send copies only the frame.
//
// Receiving: only datagrams from the remote address, with the I flag, our VNI and
// an Ethernet frame of a sane length are delivered; the rest are dropped, counted
// as 'malformed' and, in detail, in stats.refused.

import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { FishnetError } from '../../protocols/errors.ts';
import { formatIpv4, ipv4 } from '../net/addr.ts';
import { checkOptions, numberOption, show, stringOption } from './options.ts';
import {
  emptyStats,
  type FramePort,
  type FrameReceiver,
  MAX_FRAME,
  MIN_FRAME,
  type PortStats,
} from './port.ts';
import {
  checkVxlan,
  MAX_VNI,
  VXLAN_HEADER,
  VXLAN_PORT,
  type VxlanInvalid,
  writeVxlanHeader,
} from './vxlan-header.ts';

export interface VxlanOptions {
  /** The VXLAN network identifier, 0..2^24-1. */
  readonly vni: number;
  /** The remote end point's IPv4 address (a unicast address). */
  readonly remoteAddress: string;
  /** Default 4789. */
  readonly remotePort?: number;
  /** The address to bind. Default '0.0.0.0'. */
  readonly localAddress?: string;
  /** The port to bind. Default 4789; 0 takes any free port (see localPort). */
  readonly localPort?: number;
  readonly name?: string;
  /** Largest inner frame carried, in bytes. Default 1518. */
  readonly maxFrame?: number;
  /** Datagrams in flight at most (each a buffer of 8 + maxFrame bytes, made when first needed). Default 256. */
  readonly sendBuffers?: number;
  /** SO_RCVBUF and SO_SNDBUF in bytes; default: the system's. */
  readonly socketBufferBytes?: number;
}

const OPTIONS = [
  'vni',
  'remoteAddress',
  'remotePort',
  'localAddress',
  'localPort',
  'name',
  'maxFrame',
  'sendBuffers',
  'socketBufferBytes',
] as const;

/** Datagrams refused on receipt (each also counted in dropped.malformed), and sends the OS failed. */
export interface VxlanRefused extends Record<VxlanInvalid, number> {
  /** From an address other than the remote end point. */
  'wrong-source': number;
  /** The OS reported a send error (the frame is lost; also counted in dropped['send-failed']). */
  'send-error': number;
}

export interface VxlanStats extends PortStats {
  readonly refused: VxlanRefused;
}

interface Config {
  name: string;
  vni: number;
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  localPort: number;
  maxFrame: number;
  sendBuffers: number;
  socketBufferBytes: number | undefined;
}

const WHERE = 'VxlanPort.open';

function address(where: string, name: string, v: unknown, fallback?: string): string {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'string')
    throw new TypeError(`${where}: option '${name}' must be a string, not ${show(v)}`);
  try {
    return formatIpv4(ipv4(v));
  } catch {
    throw new TypeError(`${where}: option '${name}' must be an IPv4 address like 10.0.0.1, not ${show(v)}`);
  }
}

/** A remote end point's address: a unicast IPv4 address. */
function remote(where: string, name: string, v: unknown): string {
  const a = address(where, name, v);
  const first = ipv4(a) >>> 24;
  if (a === '0.0.0.0' || a === '255.255.255.255' || (first >= 224 && first <= 239))
    throw new RangeError(
      `${where}: option '${name}' must be a unicast address, not ${show(v)} (multicast groups are not supported)`,
    );
  return a;
}

function config(options: VxlanOptions): Config {
  if (options === undefined) throw new TypeError(`${WHERE}: options are required (vni, remoteAddress)`);
  const o = checkOptions(WHERE, options, OPTIONS);
  const vni = numberOption(WHERE, 'vni', o.vni, { min: 0, max: MAX_VNI, integer: true });
  const remoteAddress = remote(WHERE, 'remoteAddress', o.remoteAddress);
  const port = (name: string, v: unknown, min: number) =>
    numberOption(WHERE, name, v, { min, max: 65535, integer: true }, VXLAN_PORT);
  return {
    name: stringOption(WHERE, 'name', o.name, `vxlan${vni}`),
    vni,
    remoteAddress,
    remotePort: port('remotePort', o.remotePort, 1),
    localAddress: address(WHERE, 'localAddress', o.localAddress, '0.0.0.0'),
    localPort: port('localPort', o.localPort, 0),
    maxFrame: numberOption(
      WHERE,
      'maxFrame',
      o.maxFrame,
      { min: MIN_FRAME, max: 65535 - 28 - VXLAN_HEADER, integer: true },
      MAX_FRAME,
    ),
    sendBuffers: numberOption(
      WHERE,
      'sendBuffers',
      o.sendBuffers,
      { min: 1, max: 65536, integer: true },
      256,
    ),
    socketBufferBytes:
      o.socketBufferBytes === undefined
        ? undefined
        : numberOption(WHERE, 'socketBufferBytes', o.socketBufferBytes, {
            min: 1024,
            max: 1 << 30,
            integer: true,
          }),
  };
}

/** Addresses here are IPv4 literals already checked: answer at once, so a send is not deferred to a DNS tick. */
function literal(
  host: string,
  _family: unknown,
  cb: (err: Error | null, address: string, family: number) => void,
) {
  cb(null, host, 4);
}

export class VxlanPort implements FramePort {
  readonly name: string;
  readonly vni: number;
  readonly stats: VxlanStats = {
    ...emptyStats(),
    refused: { 'bad-header': 0, 'wrong-vni': 0, 'bad-length': 0, 'wrong-source': 0, 'send-error': 0 },
  };
  /** The last error the OS reported for a send or the socket (for diagnosis; each is counted). */
  lastError: Error | undefined;
  private receiver: FrameReceiver | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  // The pool: buffers[i] and its callback done[i]; free[0..freeTop) are the free indices.
  private readonly buffers: Buffer[] = [];
  private readonly done: ((err: Error | null) => void)[] = [];
  private readonly free: Int32Array;
  private freeTop = 0;

  private constructor(
    private readonly cfg: Config,
    private readonly socket: Socket,
  ) {
    this.name = cfg.name;
    this.vni = cfg.vni;
    this.free = new Int32Array(cfg.sendBuffers);
    socket.on('message', (msg, rinfo) => this.receive(msg, rinfo));
    socket.on('error', (err) => {
      this.lastError = err;
    });
  }

  /** Bind the local end point and start carrying frames. Rejects with LINK_ERR_SOCKET if the bind fails. */
  static async open(options: VxlanOptions): Promise<VxlanPort> {
    const cfg = config(options);
    const socket = createSocket({ type: 'udp4', lookup: literal as never });
    let step = `bind ${cfg.localAddress}:${cfg.localPort}`;
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ address: cfg.localAddress, port: cfg.localPort, exclusive: true }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      if (cfg.socketBufferBytes !== undefined) {
        step = `set socket buffers to ${cfg.socketBufferBytes} bytes`;
        socket.setRecvBufferSize(cfg.socketBufferBytes);
        socket.setSendBufferSize(cfg.socketBufferBytes);
      }
    } catch (e) {
      socket.close();
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      throw new FishnetError('LINK_ERR_SOCKET', `VXLAN ${cfg.name}: ${step}: ${code}`, { cause: e });
    }
    return new VxlanPort(cfg, socket);
  }

  /** The bound local port (useful with localPort 0). */
  get localPort(): number {
    return this.socket.address().port;
  }

  get localAddress(): string {
    return this.socket.address().address;
  }

  /** The remote end point: datagrams go there, and are accepted only from its address. */
  get remoteAddress(): string {
    return this.cfg.remoteAddress;
  }

  get remotePort(): number {
    return this.cfg.remotePort;
  }

  /**
   * Point the tunnel at another remote end point (datagrams already handed to the OS
   * still go to the old one). Two ports that both bind port 0 need this: each learns
   * the other's port only after it is open.
   */
  setRemote(address: string, port: number = VXLAN_PORT): void {
    const where = 'VxlanPort.setRemote';
    const a = remote(where, 'address', address);
    this.cfg.remotePort = numberOption(where, 'port', port, { min: 1, max: 65535, integer: true });
    this.cfg.remoteAddress = a;
  }

  /** Datagrams handed to the OS whose send has not completed yet. */
  get inFlight(): number {
    return this.buffers.length - this.freeTop;
  }

  send(frame: Uint8Array): boolean {
    const s = this.stats;
    if (this.closed) {
      s.dropped.closed++;
      return false;
    }
    const n = frame.length;
    if (n < MIN_FRAME || n > this.cfg.maxFrame) {
      s.dropped['bad-length']++;
      return false;
    }
    const i = this.takeBuffer();
    if (i < 0) {
      s.dropped['queue-full']++;
      return false;
    }
    const buf = this.buffers[i]!;
    buf.set(frame, VXLAN_HEADER);
    try {
      this.socket.send(buf, 0, VXLAN_HEADER + n, this.cfg.remotePort, this.cfg.remoteAddress, this.done[i]);
    } catch (e) {
      // dgram throws only for a socket that is not running; the callback will not come.
      this.free[this.freeTop++] = i;
      this.lastError = e as Error;
      s.refused['send-error']++;
      s.dropped.malformed++;
      return false;
    }
    s.txFrames++;
    s.txBytes += n;
    return true;
  }

  setReceiver(rx: FrameReceiver | undefined): void {
    this.receiver = rx;
  }

  /** Close the socket; nothing more is received. Sends the OS had not taken yet are dropped ('closed'). */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.receiver = undefined;
    this.closing = new Promise<void>((resolve) => this.socket.close(() => resolve()));
    return this.closing;
  }

  private takeBuffer(): number {
    if (this.freeTop > 0) return this.free[--this.freeTop]!;
    const i = this.buffers.length;
    if (i === this.cfg.sendBuffers) return -1;
    // The pool grows to its bound only as deep as bursts need; steady state allocates nothing.
    const buf = Buffer.alloc(VXLAN_HEADER + this.cfg.maxFrame);
    writeVxlanHeader(buf, 0, this.vni);
    this.buffers.push(buf);
    this.done.push((err) => {
      this.free[this.freeTop++] = i;
      if (!err) return;
      // Closing cancels sends the OS has not taken yet: those frames are lost to the close.
      if (this.closed) this.stats.dropped.closed++;
      else {
        this.lastError = err;
        this.stats.refused['send-error']++;
        this.stats.dropped['send-failed']++;
      }
    });
    return i;
  }

  private receive(d: Buffer, from: RemoteInfo): void {
    const s = this.stats;
    if (this.closed) {
      s.dropped.closed++;
      return;
    }
    let why: VxlanInvalid | 'wrong-source' | undefined;
    if (from.address !== this.cfg.remoteAddress) why = 'wrong-source';
    else why = checkVxlan(d, this.vni, MIN_FRAME, this.cfg.maxFrame);
    if (why !== undefined) {
      s.refused[why]++;
      s.dropped.malformed++;
      return;
    }
    const rx = this.receiver;
    if (rx === undefined) {
      s.dropped.closed++;
      return;
    }
    const n = d.length - VXLAN_HEADER;
    s.rxFrames++;
    s.rxBytes += n;
    rx(new Uint8Array(d.buffer, d.byteOffset + VXLAN_HEADER, n));
  }
}
