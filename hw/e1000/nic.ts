// The embedding program's handle on one emulated e1000: it starts the device's
// thread and owns everything shared with it.
//
//   port        the host's end of the NIC's cable (a FramePort)
//   driverCaps  what the driver actor is spawned with: the register window, the
//               signals page, its DMA memory and that memory's physical base
//   mapRegion   the IOMMU: make more memory (a client's buffer) reachable by DMA
//   stats()     the device-wide counters; close() ends the thread
//
// The device thread runs an esbuild bundle of thread.ts (built once and cached, as
// the runtime does for actors), so that it starts the same way from TypeScript
// sources and from compiled dist/ JavaScript.

import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads';
import { isMac, type Mac, mac as parseMac } from '../../lib/net/addr.ts';
import type { FramePort } from '../../lib/phy/port.ts';
import { MAX_FRAME } from '../../lib/phy/port.ts';
import { Doorbell } from '../../lib/shm/doorbell.ts';
import { createFrameQueue, FrameQueueReader, FrameQueueWriter } from '../../lib/shm/frames.ts';
import { FishnetError } from '../../protocols/errors.ts';
import { ModuleLoader } from '../../runtime/loader.ts';
import type { E1000DriverCaps } from './bus.ts';
import { HostPort } from './host-port.ts';
import { PAGE_SIZE, PhysAllocator, PhysMap } from './phys.ts';
import { BAR0_BYTES } from './regs.ts';
import {
  createHostPage,
  createSignals,
  HOST_CONTROL,
  HOST_STOP,
  SIG_DOORBELL,
  SIG_GONE,
  SIG_IRQ,
} from './signals.ts';
import { type E1000Stats, readCounters } from './stats.ts';
import type { ControlEvent, ControlRequest, DeviceThreadInit } from './thread.ts';

export interface E1000NicOptions {
  /** The MAC in the NIC's EEPROM ("02:00:00:00:00:01" or a Mac). */
  mac: Mac | string;
  /** For logs and the port's name. Default "e1000". */
  name?: string;
  /** Bytes of DMA memory for the driver (rings, buffers). Default 4 MiB. */
  dmaBytes?: number;
  /**
   * Physical address of the first region (page-aligned). Default 4 GiB, so that every
   * physical address needs the descriptors' high words and a driver that drops them
   * fails at once.
   */
  physBase?: number;
  /** Frames each direction of the link queues (a power of two). Default 1024. */
  queueFrames?: number;
  /** Turns of the device's loop without work before its thread sleeps. Default 64. */
  devicePollTurns?: number;
  /** Event-loop turns without frames before the host port sleeps. Default 4. */
  hostPollTurns?: number;
  /** Where the device's and the port's complaints go (each kind once). Default: console.warn. */
  onLog?: (message: string, kind: string) => void;
  /** How long close() waits for the thread before terminating it. Default 5000 ms. */
  closeTimeoutMs?: number;
}

/** The eval'd script every device thread starts with: load the bundle, run the device. */
const BOOT = `
const { workerData } = require('node:worker_threads');
if (workerData.sourceMaps) process.setSourceMapsEnabled(true);
import(workerData.url).then((m) => m.default(workerData.init));
`;

const loader = new ModuleLoader();
const threadModule = new URL(`./thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

interface PendingControl {
  resolve(): void;
  reject(e: Error): void;
}

export class E1000Nic {
  readonly port: FramePort;
  readonly driverCaps: E1000DriverCaps;
  private readonly hostPort: HostPort;
  private readonly host: Int32Array;
  private readonly bell: Doorbell;
  private readonly physMap = new PhysMap();
  private readonly pending = new Map<number, PendingControl>();
  private nextId = 1;
  private closing: Promise<void> | undefined;
  private failure: Error | undefined;
  private readonly exited: Promise<number>;
  private readonly controlClosed: Promise<void>;

  private constructor(
    readonly name: string,
    readonly mac: Mac,
    private readonly worker: Worker,
    private readonly control: MessagePort,
    private readonly allocator: PhysAllocator,
    private readonly hostPage: SharedArrayBuffer,
    private readonly signals: SharedArrayBuffer,
    caps: E1000DriverCaps,
    hostPort: HostPort,
    private readonly log: (message: string, kind: string) => void,
    private readonly closeTimeoutMs: number,
  ) {
    this.driverCaps = caps;
    this.hostPort = hostPort;
    this.port = hostPort;
    this.host = new Int32Array(hostPage);
    this.bell = new Doorbell(new Int32Array(signals), SIG_DOORBELL);
    this.physMap.map(caps.dma.base, caps.dma.memory);
    this.exited = new Promise((resolve) => worker.once('exit', resolve));
    this.controlClosed = new Promise((resolve) => control.once('close', () => resolve()));
    control.on('message', (e: ControlEvent) => this.onEvent(e));
    worker.on('error', (e) => this.fail(e));
    worker.once('exit', (code) => {
      if (!this.closing) this.fail(new Error(`the device thread exited (code ${code})`));
    });
  }

  /** Start the device's thread; resolves once the device is powered up (in its reset state). */
  static async start(options: E1000NicOptions): Promise<E1000Nic> {
    const o = checkOptions(options);
    const regs = new SharedArrayBuffer(BAR0_BYTES);
    const signals = createSignals();
    const hostPage = createHostPage();
    const toDevice = createFrameQueue(o.queueFrames, MAX_FRAME);
    const toHost = createFrameQueue(o.queueFrames, MAX_FRAME + 4);
    const allocator = new PhysAllocator(o.physBase);
    const memory = new SharedArrayBuffer(o.dmaBytes);
    const dma = { base: allocator.allocate(o.dmaBytes), memory };
    const url = await loader.standalone(threadModule);
    const { port1, port2 } = new MessageChannel();
    const init: DeviceThreadInit = {
      mac: o.mac,
      regs,
      signals,
      host: hostPage,
      toDevice,
      toHost,
      dma,
      control: port2,
      pollTurns: o.devicePollTurns,
    };
    const worker = new Worker(BOOT, {
      eval: true,
      workerData: { url, init, sourceMaps: process.sourceMapsEnabled },
      transferList: [port2],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const onReady = (e: ControlEvent) => {
          if (e.op === 'ready') done(undefined);
        };
        const onError = (e: Error) => done(e);
        const onExit = (code: number) =>
          done(new Error(`the device thread exited (code ${code}) before it was ready`));
        const done = (e: Error | undefined) => {
          port1.off('message', onReady);
          worker.off('error', onError);
          worker.off('exit', onExit);
          if (e) reject(new FishnetError('HW_ERR_DEVICE_FAILED', `${o.name}: ${e.message}`, { cause: e }));
          else resolve();
        };
        port1.on('message', onReady);
        worker.on('error', onError);
        worker.on('exit', onExit);
      });
    } catch (e) {
      port1.close();
      await worker.terminate();
      throw e;
    }
    const deviceBell = new Doorbell(new Int32Array(signals), SIG_DOORBELL);
    const hostPort = new HostPort(
      o.name,
      new FrameQueueWriter(toDevice, MAX_FRAME),
      new FrameQueueReader(toHost, MAX_FRAME + 4),
      deviceBell,
      { pollTurns: o.hostPollTurns, log: (kind, message) => o.onLog(message, kind) },
    );
    return new E1000Nic(
      o.name,
      o.mac,
      worker,
      port1,
      allocator,
      hostPage,
      signals,
      { regs, signals, dma },
      hostPort,
      o.onLog,
      o.closeTimeoutMs,
    );
  }

  /**
   * Make `memory` reachable by the device's DMA; resolves with its physical base once
   * the device has mapped it. Bases are never reused while the NIC lives.
   */
  async mapRegion(memory: SharedArrayBuffer): Promise<number> {
    this.checkOpen();
    if (!(memory instanceof SharedArrayBuffer) || memory.byteLength === 0) {
      throw new FishnetError(
        'HW_ERR_BAD_REGION',
        `${this.name}: mapRegion takes a non-empty SharedArrayBuffer`,
      );
    }
    const base = this.allocator.allocate(memory.byteLength);
    this.physMap.map(base, memory); // throws if this memory is mapped already
    try {
      await this.request({ op: 'map', id: 0, base, memory });
    } catch (e) {
      this.physMap.unmap(base);
      throw e;
    }
    return base;
  }

  /** Make the region at `base` unreachable again; resolves once the device has dropped it. */
  async unmapRegion(base: number): Promise<void> {
    this.checkOpen();
    if (base === this.driverCaps.dma.base) {
      throw new FishnetError('HW_ERR_BAD_REGION', `${this.name}: the driver's DMA memory stays mapped`);
    }
    if (this.physMap.regionAt(base) === undefined) {
      throw new FishnetError('HW_ERR_BAD_REGION', `${this.name}: nothing is mapped at ${String(base)}`);
    }
    this.physMap.unmap(base);
    await this.request({ op: 'unmap', id: 0, base });
  }

  /** The device-wide counters (a consistent snapshot; never cleared). */
  stats(): E1000Stats {
    return readCounters(this.hostPage);
  }

  /** Stop the device's thread and close the port. Afterwards nothing of the NIC runs. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  private async shutdown(): Promise<void> {
    await this.hostPort.close();
    Atomics.store(this.host, HOST_STOP, 1);
    this.bell.wake();
    const timer = new Promise<'timeout'>((resolve) => {
      const t = setTimeout(() => resolve('timeout'), this.closeTimeoutMs);
      this.exited.finally(() => clearTimeout(t));
    });
    if ((await Promise.race([this.exited, timer])) === 'timeout') {
      this.log(
        `${this.name}: the device thread did not stop within ${this.closeTimeoutMs} ms: terminated`,
        'close',
      );
      await this.worker.terminate();
    }
    await this.exited;
    this.control.close();
    await this.controlClosed; // closed by either end; the port is gone once this fires
    // Whatever the thread managed, interrupt waiters must learn that the device is gone.
    const sig = new Int32Array(this.signals);
    Atomics.store(sig, SIG_GONE, 1);
    Atomics.notify(sig, SIG_IRQ);
    for (const p of this.pending.values()) p.reject(new FishnetError('HW_ERR_CLOSED', this.name));
    this.pending.clear();
  }

  private request(req: ControlRequest): Promise<void> {
    const id = this.nextId++;
    req.id = id;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.control.postMessage(req);
      Atomics.store(this.host, HOST_CONTROL, 1);
      this.bell.wake();
    });
  }

  private onEvent(e: ControlEvent): void {
    if (e.op === 'ack') {
      const p = this.pending.get(e.id);
      this.pending.delete(e.id);
      if (p && e.error)
        p.reject(
          FishnetError.fromWire(e.error) ??
            new FishnetError('HW_ERR_DEVICE_FAILED', 'an answer the host cannot read'),
        );
      else p?.resolve();
    } else if (e.op === 'log') {
      this.log(`${this.name}: ${e.message}`, e.kind);
    }
  }

  private fail(e: Error): void {
    this.failure = e;
    this.log(`${this.name}: the device thread failed: ${e.stack ?? e.message}`, 'device-failed');
    const err = new FishnetError('HW_ERR_DEVICE_FAILED', `${this.name}: ${e.message}`, { cause: e });
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    void this.close();
  }

  private checkOpen(): void {
    if (this.failure) throw new FishnetError('HW_ERR_DEVICE_FAILED', `${this.name}: ${this.failure.message}`);
    if (this.closing) throw new FishnetError('HW_ERR_CLOSED', this.name);
  }
}

interface Checked {
  mac: Mac;
  name: string;
  dmaBytes: number;
  physBase: number;
  queueFrames: number;
  devicePollTurns: number;
  hostPollTurns: number;
  onLog: (message: string, kind: string) => void;
  closeTimeoutMs: number;
}

function checkOptions(o: E1000NicOptions): Checked {
  const bad = (what: string): never => {
    throw new FishnetError('HW_ERR_BAD_OPTION', what);
  };
  if (typeof o !== 'object' || o === null) bad('options must be an object');
  let mac: Mac;
  if (typeof o.mac === 'string') {
    try {
      mac = parseMac(o.mac);
    } catch (e) {
      return bad(`mac: ${(e as Error).message}`);
    }
  } else if (isMac(o.mac)) mac = o.mac;
  else return bad(`mac: ${String(o.mac)} is not a MAC address`);
  const int = (name: string, v: unknown, def: number, ok: (n: number) => boolean, rule: string): number => {
    if (v === undefined) return def;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || !ok(v))
      bad(`${name}: ${String(v)} is not ${rule}`);
    return v as number;
  };
  const name = o.name ?? 'e1000';
  if (typeof name !== 'string' || name.length === 0) bad('name: a non-empty string');
  if (o.onLog !== undefined && typeof o.onLog !== 'function') bad('onLog: a function');
  return {
    mac,
    name,
    dmaBytes: int('dmaBytes', o.dmaBytes, 4 << 20, (n) => n >= PAGE_SIZE && n <= 1 << 30, '4 KiB..1 GiB'),
    physBase: int(
      'physBase',
      o.physBase,
      2 ** 32,
      (n) => n >= 0 && n % PAGE_SIZE === 0 && n < 2 ** 52,
      'a page-aligned address below 2^52',
    ),
    queueFrames: int(
      'queueFrames',
      o.queueFrames,
      1024,
      (n) => n >= 2 && n <= 1 << 14 && (n & (n - 1)) === 0,
      'a power of two in 2..16384',
    ),
    devicePollTurns: int('devicePollTurns', o.devicePollTurns, 64, (n) => n >= 0 && n <= 1 << 20, '0..2^20'),
    hostPollTurns: int('hostPollTurns', o.hostPollTurns, 4, (n) => n >= 0 && n <= 1 << 20, '0..2^20'),
    onLog: o.onLog ?? ((message) => console.warn(`[e1000] ${message}`)),
    closeTimeoutMs: int('closeTimeoutMs', o.closeTimeoutMs, 5000, (n) => n >= 0, 'a number of milliseconds'),
  };
}
