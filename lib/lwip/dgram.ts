// A socket API shaped like node:dgram, over the stack's UDP. The same argument rules,
// the same errors (class, code, message, errno, syscall), the same events in the same
// order: 'listening', 'connect', 'message' (msg, rinfo), 'error', 'close'. What an
// actor does with node:dgram it does here, on the machine's emulated NIC:
//
//   const net = await lwip.open(ctx, { machine: 'm1' });
//   const s = net.dgram.createSocket('udp4');
//   s.on('message', (msg, rinfo) => s.send(msg, rinfo.port, rinfo.address));
//   s.bind(7);
//
// Where it differs, and why:
//  - Ports are netd's: bind() asks netd (get_port / bind_port), close() gives the
//    port back (close_port). A port below 1024 needs the netd-priv grant (EACCES).
//  - A send callback runs when the driver has sent every frame of the datagram (or
//    when one failed: EHOSTUNREACH when ARP got no answer, EPERM when the driver's
//    transmit filters refused it, ENOBUFS when no transmit slot was free). As in
//    Node, a send without a callback reports nothing; ours counts its failures in
//    stats().sendErrors. Back-pressure: net.txReady() resolves when a slot is free.
//  - A send to an IPv4 literal (or on a connected socket) is copied into its transmit
//    slot before send() returns, so the buffer may be reused at once (Node asks that
//    it stay unchanged until the callback). A name is looked up a tick later, as in Node.
//  - 'message' hands a copy by default: a Buffer the handler may keep. With
//    createSocket({ type: 'udp4', zeroCopy: true }) it is a view of the stack's
//    receive memory, valid only until the handler returns.
//  - Names: IPv4 literals and 'localhost' (no DNS: any other name is ENOTFOUND, or
//    pass options.lookup). No IPv6, no multicast membership, no reuseAddr.
//  - ICMP errors about the socket's datagrams are emitted as 'icmp' (fishnet's own
//    event, with type, code and errno); a connected socket also gets the "hard" ones
//    as 'error' (ECONNREFUSED for port unreachable), as Linux reports them to Node.
import { EventEmitter } from 'node:events';
import { formatIpv4, type Ipv4Addr, ipv4 } from '../net/index.ts';
import {
  BUFFER_TYPES,
  errnoException,
  exceptionWithHostPort,
  nodeErrors,
  notFound,
  type SystemError,
} from './node-errors.ts';
import type { IpInfo, Stack, TxError, TxRequest } from './stack.ts';
import { type Udp, UdpBindError, type UdpIcmpError, UdpPcb, type UdpReceiver } from './udp.ts';

/** What a socket needs of the stack it lives on (net.ts's Net). */
export interface DgramHost {
  readonly udp: Udp;
  readonly stack: Stack;
  /** A socket was made on this host / has closed (the host closes those left at its end). */
  adopt(s: Socket): void;
  disown(s: Socket): void;
}

export type LookupFunction = (
  hostname: string,
  family: number,
  callback: (err: Error | null, address?: string, family?: number) => void,
) => void;

export interface SocketOptions {
  readonly type: 'udp4' | 'udp6';
  /** The stack (what lwip.open returned); net.dgram.createSocket fills it in. */
  readonly stack?: DgramHost;
  /** 'message' gets a view valid during the handler instead of a copy. */
  readonly zeroCopy?: boolean;
  readonly lookup?: LookupFunction;
  readonly signal?: AbortSignal;
  /** Accepted and checked as Node checks them; the stack's memory is fixed, so they change nothing. */
  readonly recvBufferSize?: number;
  readonly sendBufferSize?: number;
  /** Not supported (two sockets never share a port here): true is refused. */
  readonly reuseAddr?: boolean;
  readonly ipv6Only?: boolean;
}

export interface RemoteInfo {
  address: string;
  family: 'IPv4';
  port: number;
  size: number;
}

export interface AddressInfo {
  address: string;
  family: 'IPv4';
  port: number;
}

export interface SocketStats {
  sent: number;
  sentBytes: number;
  received: number;
  receivedBytes: number;
  /** Sends that failed, by errno (with or without a callback). */
  readonly sendErrors: Record<string, number>;
  icmpErrors: number;
  /** Sends refused because too many waited for the socket's port. */
  queueFull: number;
}

const UNBOUND = 0;
const BINDING = 1;
const BOUND = 2;
const DISCONNECTED = 0;
const CONNECTING = 1;
const CONNECTED = 2;
/** Operations that may wait for a bind (Node's queue is unbounded; this one refuses past it). */
const QUEUE_LIMIT = 4096;
const EMPTY = new Uint8Array(0);

type Callback = (err: Error | null, bytes?: number) => void;
/** A send's callback: the error (a Node system error), or null and the bytes sent. */
export type SendCallback = (err: Error | null, bytes?: number) => void;
/** What send() takes, as node:dgram does. */
export type SendData = string | NodeJS.ArrayBufferView | readonly (string | NodeJS.ArrayBufferView)[];

function validatePort(port: unknown, name: string, allowZero: boolean): number {
  if (
    (typeof port !== 'number' && typeof port !== 'string') ||
    (typeof port === 'string' && port.trim().length === 0) ||
    +port !== +port >>> 0 ||
    +port > 0xffff ||
    (+port === 0 && !allowZero)
  ) {
    throw nodeErrors.badPort(name, port, allowZero);
  }
  return +port | 0;
}

function validateUint32(v: unknown, name: string): void {
  if (typeof v !== 'number') throw nodeErrors.invalidArgType(name, 'of type number', v);
  if (!Number.isInteger(v)) throw nodeErrors.outOfRange(name, 'an integer', v);
  if (v < 0 || v > 0xffff_ffff) throw nodeErrors.outOfRange(name, '>= 0 && <= 4294967295', v);
}

/** The bytes of a string or ArrayBufferView, as a Uint8Array (no copy for views). */
function bytesOf(b: unknown): Uint8Array | undefined {
  if (typeof b === 'string') return Buffer.from(b);
  if (b instanceof Uint8Array) return b;
  if (ArrayBuffer.isView(b)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return undefined;
}

function sliceBuffer(buffer: unknown, offset: unknown, length: unknown): Uint8Array {
  const b = bytesOf(buffer);
  if (b === undefined) throw nodeErrors.invalidArgType('buffer', BUFFER_TYPES, buffer);
  const off = (offset as number) >>> 0;
  const len = (length as number) >>> 0;
  if (off > b.byteLength) throw nodeErrors.outOfBounds('offset');
  if (off + len > b.byteLength) throw nodeErrors.outOfBounds('length');
  return b.subarray(off, off + len);
}

function bufferList(list: readonly unknown[]): Uint8Array[] | undefined {
  const out: Uint8Array[] = [];
  for (const b of list) {
    const v = bytesOf(b);
    if (v === undefined) return undefined;
    out.push(v);
  }
  return out;
}

/** A send with a callback, waiting for its frames. */
class SendRequest implements TxRequest {
  pending = 0;
  error: TxError | undefined = undefined;
  constructor(
    private readonly socket: Socket,
    private readonly cb: Callback,
    private readonly address: string | undefined,
    private readonly port: number | undefined,
    private readonly bytes: number,
  ) {}
  complete(error: TxError | undefined): void {
    // The stack may finish a request before send() returned: answer on a later tick, as Node does.
    process.nextTick(() => this.socket.sent(error, this.cb, this.address, this.port, this.bytes));
  }
}

export class Socket extends EventEmitter implements UdpReceiver {
  readonly type = 'udp4';
  private readonly host: DgramHost;
  private readonly pcb: UdpPcb;
  private readonly zeroCopy: boolean;
  private readonly lookupFn: LookupFunction | undefined;
  private bindState = UNBOUND;
  private connectState = DISCONNECTED;
  private closed = false;
  private queue: (() => void)[] | undefined;
  private readonly stats_: SocketStats = {
    sent: 0,
    sentBytes: 0,
    received: 0,
    receivedBytes: 0,
    sendErrors: {},
    icmpErrors: 0,
    queueFull: 0,
  };

  constructor(type: unknown, listener?: (msg: Buffer, rinfo: RemoteInfo) => void, host?: DgramHost) {
    super();
    let options: SocketOptions | undefined;
    if (type !== null && typeof type === 'object') {
      options = type as SocketOptions;
      type = options.type;
      if (options.recvBufferSize) validateUint32(options.recvBufferSize, 'options.recvBufferSize');
      if (options.sendBufferSize) validateUint32(options.sendBufferSize, 'options.sendBufferSize');
      if (options.lookup !== undefined && typeof options.lookup !== 'function')
        throw nodeErrors.invalidArgType('lookup', 'of type function', options.lookup);
    }
    if (type === 'udp6') throw nodeErrors.badType("fishnet's stack has no IPv6: use udp4");
    if (type !== 'udp4') throw nodeErrors.badType();
    const h = options?.stack ?? host;
    if (h === undefined || typeof h !== 'object' || !('udp' in h) || !('stack' in h))
      throw nodeErrors.invalidArgType('options.stack', 'the network lwip.open() returned', h);
    if (options?.reuseAddr) throw errnoException('EOPNOTSUPP', 'reuseAddr');
    this.host = h;
    this.zeroCopy = options?.zeroCopy === true;
    this.lookupFn = options?.lookup;
    this.pcb = new UdpPcb(this, h.stack.defaultTtl);
    if (typeof listener === 'function') this.on('message', listener);
    h.adopt(this);
    const signal = options?.signal;
    if (signal !== undefined) {
      if (typeof signal !== 'object' || signal === null || !('aborted' in signal))
        throw nodeErrors.invalidArgType('options.signal', 'an instance of AbortSignal', signal);
      const onAbort = () => {
        if (!this.closed) this.close();
      };
      if (signal.aborted) process.nextTick(onAbort);
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        this.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
  }

  /** What this socket counted (fishnet's own). */
  stats(): SocketStats {
    return structuredClone(this.stats_);
  }

  // ---- names ------------------------------------------------------------------------

  /** Node's lookup: an address string to an IPv4 address, on a later tick. Throws for a name that is not a string. */
  private resolve(address: unknown, cb: (err: SystemError | Error | null, ip?: Ipv4Addr) => void): void {
    if (this.lookupFn) {
      this.lookupFn((address as string) || '127.0.0.1', 4, (err, ip) => {
        if (err) return cb(err);
        let a: Ipv4Addr;
        try {
          a = ipv4(String(ip));
        } catch {
          return cb(errnoException('EINVAL', 'lookup'));
        }
        cb(null, a);
      });
      return;
    }
    if (address !== undefined && typeof address !== 'string')
      throw nodeErrors.invalidArgType('hostname', 'of type string', address);
    const name = address || '127.0.0.1';
    let ip: Ipv4Addr | undefined;
    if (name === 'localhost') ip = ipv4('127.0.0.1');
    else if (/^[0-9.]+$/.test(name)) {
      try {
        ip = ipv4(name);
      } catch {
        ip = undefined;
      }
    }
    if (ip !== undefined) {
      const found = ip;
      process.nextTick(() => cb(null, found));
      return;
    }
    // An IPv6 literal resolves, and then cannot be used on a udp4 socket (EINVAL, as Node's send says).
    if (name.includes(':')) process.nextTick(() => cb(errnoException('EINVAL', 'lookup')));
    else process.nextTick(() => cb(notFound(name)));
  }

  // ---- bind -------------------------------------------------------------------------

  bind(port?: unknown, address?: unknown, callback?: () => void): this;
  bind(...args: unknown[]): this {
    this.healthCheck();
    if (this.bindState !== UNBOUND) throw nodeErrors.alreadyBound();
    let port = args[0];
    let address: unknown;
    if (port !== null && typeof port === 'object') {
      address = (port as { address?: unknown }).address || '';
      port = (port as { port?: unknown }).port;
    } else {
      address = typeof args[1] === 'function' ? '' : args[1];
    }
    if (!address) address = '0.0.0.0';
    if (this.lookupFn === undefined && typeof address !== 'string')
      throw nodeErrors.invalidArgType('hostname', 'of type string', address);
    this.bindState = BINDING;
    const cb = args.length > 0 ? args[args.length - 1] : undefined;
    if (typeof cb === 'function') {
      const onListening = () => {
        this.removeListener('error', removeListeners);
        cb.call(this);
      };
      const removeListeners = () => {
        this.removeListener('error', removeListeners);
        this.removeListener('listening', onListening);
      };
      this.on('error', removeListeners);
      this.on('listening', onListening);
    }
    // As Node hands the port to libuv: a number cut to 16 bits, anything else 0.
    const wanted = (Number(port || 0) >>> 0) & 0xffff;
    this.resolve(address, (err, ip) => {
      if (this.closed) return;
      if (err) {
        this.bindState = UNBOUND;
        this.emit('error', err);
        return;
      }
      this.host.udp.bind(this.pcb, wanted, ip!).then(
        () => {
          if (this.closed) return;
          this.bindState = BOUND;
          this.emit('listening');
        },
        (e: unknown) => {
          if (this.closed) return;
          this.bindState = UNBOUND;
          const errno = e instanceof UdpBindError ? e.errno : 'EIO';
          this.emit('error', exceptionWithHostPort(errno, 'bind', formatIpv4(ip!), wanted, e));
        },
      );
    });
    return this;
  }

  private enqueue(fn: () => void): boolean {
    if (this.queue === undefined) {
      this.queue = [];
      this.once('error', this.onListenError);
      this.once('listening', this.onListenSuccess);
    }
    if (this.queue.length >= QUEUE_LIMIT) {
      this.stats_.queueFull++;
      return false;
    }
    this.queue.push(fn);
    return true;
  }

  private readonly onListenSuccess = () => {
    this.removeListener('error', this.onListenError);
    const q = this.queue ?? [];
    this.queue = undefined;
    for (const fn of q) fn();
  };

  private readonly onListenError = () => {
    this.removeListener('listening', this.onListenSuccess);
    this.queue = undefined;
    // Node forgets a close() that waited for a bind that failed; we do not.
    if (this.closeWanted) process.nextTick(() => !this.closed && this.close());
  };

  private closeWanted = false;

  // ---- connect ----------------------------------------------------------------------

  connect(port: unknown, address?: unknown, callback?: (err?: Error) => void): void {
    const p = validatePort(port, 'Port', false);
    if (typeof address === 'function') {
      callback = address as (err?: Error) => void;
      address = '';
    } else if (address === undefined) {
      address = '';
    }
    if (typeof address !== 'string') throw nodeErrors.invalidArgType('address', 'of type string', address);
    this.healthCheck();
    if (this.connectState !== DISCONNECTED) throw nodeErrors.isConnected();
    this.connectState = CONNECTING;
    if (this.bindState === UNBOUND) this.bind({ port: 0 });
    if (this.bindState !== BOUND) {
      const addr = address;
      if (!this.enqueue(() => this.doConnect(p, addr, callback))) {
        this.connectState = DISCONNECTED;
        throw exceptionWithHostPort('ENOBUFS', 'connect', addr, p);
      }
      return;
    }
    this.doConnect(p, address, callback);
  }

  private doConnect(port: number, address: string, callback: ((err?: Error) => void) | undefined): void {
    if (callback) this.once('connect', callback);
    this.resolve(address, (ex, ip) => {
      if (this.closed) return;
      let err = ex;
      if (!err) {
        const s = this.host.stack;
        const broadcast =
          ip === 0xffff_ffff || (ip === ((s.ip & s.netmask) | ~s.netmask) >>> 0 && s.ip !== 0);
        if (broadcast && !this.pcb.broadcast) err = exceptionWithHostPort('EACCES', 'connect', address, port);
      }
      if (err) {
        this.connectState = DISCONNECTED;
        const e = err;
        process.nextTick(() => {
          if (callback) {
            this.removeListener('connect', callback);
            callback(e);
          } else this.emit('error', e);
        });
        return;
      }
      this.pcb.remoteIp = ip!;
      this.pcb.remotePort = port;
      this.connectState = CONNECTED;
      process.nextTick(() => this.emit('connect'));
    });
  }

  disconnect(): void {
    this.healthCheck();
    if (this.connectState !== CONNECTED) throw nodeErrors.notConnected();
    this.pcb.remoteIp = 0 as Ipv4Addr;
    this.pcb.remotePort = 0;
    this.connectState = DISCONNECTED;
  }

  // ---- send -------------------------------------------------------------------------

  send(msg: SendData, port?: number | string, address?: string, callback?: SendCallback): void;
  send(msg: SendData, port?: number | string, callback?: SendCallback): void;
  send(msg: SendData, callback?: SendCallback): void;
  send(
    msg: SendData,
    offset: number,
    length: number,
    port?: number | string,
    address?: string,
    callback?: SendCallback,
  ): void;
  send(msg: SendData, offset: number, length: number, port?: number | string, callback?: SendCallback): void;
  send(msg: SendData, offset: number, length: number, callback?: SendCallback): void;
  send(
    buffer: unknown,
    offset?: unknown,
    length?: unknown,
    port?: unknown,
    address?: unknown,
    callback?: unknown,
  ): void {
    let data: Uint8Array | Uint8Array[] | undefined;
    const connected = this.connectState === CONNECTED;
    if (!connected) {
      if (address || (port && typeof port !== 'function')) {
        buffer = sliceBuffer(buffer, offset, length);
      } else {
        callback = port;
        port = offset;
        address = length;
      }
    } else {
      if (typeof length === 'number') {
        buffer = sliceBuffer(buffer, offset, length);
        if (typeof port === 'function') {
          callback = port;
          port = null;
        } else {
          callback = address;
        }
      } else {
        callback = offset;
      }
      if (port || address) throw nodeErrors.isConnected();
    }
    if (!Array.isArray(buffer)) {
      const b = bytesOf(buffer);
      if (b === undefined) throw nodeErrors.invalidArgType('buffer', BUFFER_TYPES, buffer);
      data = b; // one buffer: no list made for it
    } else {
      data = bufferList(buffer);
      if (data === undefined) throw nodeErrors.invalidArgType('buffer list arguments', BUFFER_TYPES, buffer);
      if (data.length === 0) data = EMPTY;
    }
    let dstPort = 0;
    if (!connected) dstPort = validatePort(port, 'Port', false);
    let cb = typeof callback === 'function' ? (callback as Callback) : undefined;
    if (typeof address === 'function') {
      cb = address as Callback;
      address = undefined;
    } else if (address != null && typeof address !== 'string') {
      throw nodeErrors.invalidArgType('address', 'of type string', address);
    }
    this.healthCheck();
    if (this.bindState === UNBOUND) this.bind({ port: 0 });
    if (this.bindState !== BOUND) {
      const l = data;
      const a = address as string | undefined;
      if (!this.enqueue(() => this.afterBind(l, dstPort, a, cb, connected))) {
        this.failed('ENOBUFS', cb, a, dstPort);
      }
      return;
    }
    this.afterBind(data, dstPort, address as string | undefined, cb, connected);
  }

  private afterBind(
    list: Uint8Array | Uint8Array[],
    port: number,
    address: string | undefined,
    cb: Callback | undefined,
    connected: boolean,
  ): void {
    if (this.closed) return;
    if (connected) {
      this.transmit(list, this.pcb.remoteIp, this.pcb.remotePort, undefined, undefined, cb);
      return;
    }
    // An IPv4 literal needs no lookup: the datagram is copied into its slot now, so
    // that the caller may reuse its buffer at once (and a zero-copy message can be
    // echoed from inside its handler). Names go through the lookup, a tick later, as in Node.
    const literal = this.lookupFn === undefined ? this.literal(address) : undefined;
    if (literal !== undefined) {
      this.transmit(list, literal, port, address, port, cb);
      return;
    }
    // An IPv6 address on a udp4 socket: the send fails, as Node's does (EINVAL).
    if (this.lookupFn === undefined && address?.includes(':')) {
      this.failed('EINVAL', cb, address, port);
      return;
    }
    this.resolve(address, (ex, ip) => {
      if (this.closed) return;
      if (ex) {
        if (cb) process.nextTick(cb, ex);
        else process.nextTick(() => this.emit('error', ex));
        return;
      }
      this.transmit(list, ip!, port, address, port, cb);
    });
  }

  /** A dotted quad as an address (the last one is remembered: a reply goes where the last one went). */
  private literal(address: string | undefined): Ipv4Addr | undefined {
    if (address === undefined || address === '') return undefined;
    if (address === this.lastText) return this.lastIp;
    if (!/^[0-9]{1,3}(\.[0-9]{1,3}){3}$/.test(address)) return undefined;
    let ip: Ipv4Addr;
    try {
      ip = ipv4(address);
    } catch {
      return undefined;
    }
    this.lastText = address;
    this.lastIp = ip;
    return ip;
  }

  private lastText: string | undefined;
  private lastIp: Ipv4Addr | undefined;

  private transmit(
    data: Uint8Array | Uint8Array[],
    dst: Ipv4Addr,
    dstPort: number,
    address: string | undefined,
    port: number | undefined,
    cb: Callback | undefined,
  ): void {
    let bytes = 0;
    if (data instanceof Uint8Array) bytes = data.length;
    else for (const b of data) bytes += b.length;
    const req = cb ? new SendRequest(this, cb, address, port, bytes) : undefined;
    const err = this.host.udp.send(this.pcb, data, dst, dstPort, req);
    if (err !== undefined) {
      this.failed(err, cb, address, port);
      return;
    }
    this.stats_.sent++;
    this.stats_.sentBytes += bytes;
  }

  /** @internal a send with a callback ended. */
  sent(
    error: TxError | undefined,
    cb: Callback,
    address: string | undefined,
    port: number | undefined,
    bytes: number,
  ): void {
    if (error === undefined) cb(null, bytes);
    else this.failed(error, cb, address, port);
  }

  private failed(
    errno: string,
    cb: Callback | undefined,
    address: string | undefined,
    port: number | undefined,
  ): void {
    this.stats_.sendErrors[errno] = (this.stats_.sendErrors[errno] ?? 0) + 1;
    if (cb) process.nextTick(cb, exceptionWithHostPort(errno, 'send', address, port));
  }

  // ---- receive (the stack calls these) --------------------------------------------------

  /** @internal */
  datagram(buf: Uint8Array, off: number, len: number, src: Ipv4Addr, srcPort: number, _ip: IpInfo): void {
    if (this.closed) return;
    let msg: Buffer;
    if (this.zeroCopy) msg = Buffer.from(buf.buffer, buf.byteOffset + off, len);
    else {
      msg = Buffer.allocUnsafe(len);
      msg.set(buf.subarray(off, off + len));
    }
    this.stats_.received++;
    this.stats_.receivedBytes += len;
    this.emit('message', msg, { address: formatIpv4(src), family: 'IPv4', port: srcPort, size: len });
  }

  /** @internal */
  icmpError(e: UdpIcmpError): void {
    if (this.closed) return;
    this.stats_.icmpErrors++;
    if (this.listenerCount('icmp') > 0) this.emit('icmp', e);
    const p = this.pcb;
    if (this.connectState === CONNECTED && e.fatal && e.dst === p.remoteIp && e.dstPort === p.remotePort)
      this.emit('error', errnoException(e.errno, 'recvmsg'));
  }

  // ---- the rest of node:dgram -----------------------------------------------------------

  address(): AddressInfo {
    this.healthCheck();
    if (!this.pcb.bound) throw errnoException('EBADF', 'getsockname');
    return { address: formatIpv4(this.pcb.localIp), family: 'IPv4', port: this.pcb.localPort };
  }

  remoteAddress(): AddressInfo {
    this.healthCheck();
    if (this.connectState !== CONNECTED) throw nodeErrors.notConnected();
    return { address: formatIpv4(this.pcb.remoteIp), family: 'IPv4', port: this.pcb.remotePort };
  }

  setBroadcast(flag: boolean): void {
    this.healthCheck();
    if (!this.pcb.bound) throw errnoException('EBADF', 'setBroadcast');
    this.pcb.broadcast = !!flag;
  }

  setTTL(ttl: number): number {
    if (typeof ttl !== 'number') throw nodeErrors.invalidArgType('ttl', 'of type number', ttl);
    this.healthCheck();
    if (!this.pcb.bound) throw errnoException('EBADF', 'setTTL');
    const t = Math.trunc(ttl);
    if (!(t >= 1 && t <= 255)) throw errnoException('EINVAL', 'setTTL');
    this.pcb.ttl = t;
    return ttl;
  }

  /** No multicast groups on this stack. */
  addMembership(): void {
    throw errnoException('ENOSYS', 'addMembership');
  }
  dropMembership(): void {
    throw errnoException('ENOSYS', 'dropMembership');
  }
  setMulticastTTL(): number {
    throw errnoException('ENOSYS', 'setMulticastTTL');
  }
  setMulticastLoopback(): boolean {
    throw errnoException('ENOSYS', 'setMulticastLoopback');
  }
  setMulticastInterface(): void {
    throw errnoException('ENOSYS', 'setMulticastInterface');
  }

  /** The stack's threads are kept alive by its bindings, not by sockets: these change nothing. */
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  close(callback?: () => void): this {
    if (typeof callback === 'function') this.on('close', callback);
    if (this.queue !== undefined) {
      this.closeWanted = true;
      this.queue.push(() => this.close());
      return this;
    }
    this.healthCheck();
    this.closed = true;
    this.host.udp.release(this.pcb);
    this.host.disown(this);
    process.nextTick(() => this.emit('close'));
    return this;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private healthCheck(): void {
    if (this.closed) throw nodeErrors.notRunning();
  }
}

/**
 * node:dgram's createSocket, for a stack: `createSocket({ type: 'udp4', stack: net })`
 * (or net.dgram.createSocket('udp4'), which fills in the stack).
 */
export function createSocket(
  type: 'udp4' | SocketOptions,
  listener?: (msg: Buffer, rinfo: RemoteInfo) => void,
): Socket {
  return new Socket(type, listener);
}
