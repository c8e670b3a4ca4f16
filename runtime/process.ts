// The kernel's record of one actor: its thread, its control and management
// channels, and the one exit reason it ends with. The thread's events are turned into
// exactly one `exit` callback, whatever order they come in.

import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { FishnetError } from '../protocols/errors.ts';
import type { CapabilityRef } from './actor.ts';
import type { CSpace } from './capabilities.ts';
import { ControlChannel } from './control.ts';
import { ManagementChannel } from './management.ts';
import type { ActorId, ExitReason } from './reasons.ts';
import type { ActorSpec, ShutdownPolicy } from './spec.ts';
import type { Assignment } from './worker/host.ts';

export type ProcessState = 'starting' | 'running' | 'stopping' | 'dead';

export interface ProcessInit {
  readonly id: ActorId;
  readonly name: string;
  readonly spec: ActorSpec;
  readonly worker: Worker;
  readonly ctlPort: MessagePort;
  readonly cspace: CSpace;
  readonly caps: Record<string, CapabilityRef>;
}

export class ActorProcess {
  readonly id: ActorId;
  readonly name: string;
  readonly spec: ActorSpec;
  readonly cspace: CSpace;
  readonly ctl: ControlChannel;
  readonly mgmt: ManagementChannel<unknown>;
  readonly exited: Promise<ExitReason>;
  state: ProcessState = 'starting';
  reason: ExitReason | undefined;
  readonly startedAt = performance.now();

  /** Services this actor exports and bindings it is party to. Kept by the runtime. */
  readonly exports = new Set<string>();
  readonly bindings = new Set<number>();
  /** It got as far as ready (its start() returned). */
  wasReady = false;

  private readonly worker: Worker;
  private readonly mgmtPort: MessagePort;
  private failure: ExitReason | undefined;
  private startError: FishnetError | undefined;
  private killCause: 'kill' | 'shutdown-timeout' | 'watchdog' | undefined;
  private stopRequested = false;
  private watchdogTimer: ReturnType<typeof setTimeout> | undefined;
  private shutdownTimer: ReturnType<typeof setTimeout> | undefined;
  private lastPong = performance.now();
  private settleExit!: (r: ExitReason) => void;
  private settleReady!: { resolve(): void; reject(e: FishnetError): void };
  readonly ready: Promise<void>;

  constructor(
    init: ProcessInit,
    private readonly onExit: (p: ActorProcess) => void,
  ) {
    this.id = init.id;
    this.name = init.name;
    this.spec = init.spec;
    this.cspace = init.cspace;
    this.worker = init.worker;
    this.ctl = new ControlChannel(init.ctlPort);
    const { port1, port2 } = new MessageChannel();
    this.mgmt = new ManagementChannel(port1, init.name);
    this.mgmtPort = port2;
    this.exited = new Promise((r) => {
      this.settleExit = r;
    });
    this.ready = new Promise<void>((resolve, reject) => {
      this.settleReady = { resolve, reject };
    });
    this.ready.catch(() => {}); // spawn() reports it
    this.worker.on('error', (e: Error & { code?: string }) => {
      this.failure ??=
        e?.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? { kind: 'oom', message: e.message }
          : { kind: 'error', name: e?.name ?? 'Error', message: e?.message ?? String(e), stack: e?.stack };
    });
    this.worker.on('exit', (code) => this.finish(code));
    this.mgmtPort.unref();
  }

  /** Hand the thread its work. Throws RT_ERR_BAD_SPEC when the arguments cannot be cloned. */
  assign(hostUrl: string, caps: Record<string, CapabilityRef>): void {
    const a: Assignment & { hostUrl: string } = {
      id: this.id,
      name: this.name,
      args: this.spec.args,
      hostUrl,
      mgmt: this.mgmtPort,
      caps,
    };
    try {
      this.ctl.event('assign', a, [this.mgmtPort]);
    } catch (e) {
      throw new FishnetError(
        'RT_ERR_BAD_SPEC',
        `args of '${this.name}' cannot be sent to a thread: ${(e as Error).message}`,
      );
    }
  }

  /** The thread reported the outcome of start(). */
  started(): void {
    if (this.state !== 'starting') return;
    this.state = 'running';
    this.wasReady = true;
    this.settleReady.resolve();
    const w = this.spec.watchdog;
    if (w) this.watch(w.intervalMs, w.timeoutMs);
  }

  failedToStart(error: unknown, reason: ExitReason | undefined): void {
    if (this.state !== 'starting') return; // only a thread that is starting can fail to start
    this.startError =
      FishnetError.fromWire(error) ??
      new FishnetError('RT_ERR_START_FAILED', 'and said nothing we understand');
    this.failure ??= reason ?? { kind: 'error', name: 'FishnetError', message: this.startError.message };
  }

  /** Timers this record holds (the watchdog's, the shutdown's): at most two, whatever happened before. */
  get timerCount(): number {
    return (this.watchdogTimer ? 1 : 0) + (this.shutdownTimer ? 1 : 0);
  }

  pong(): void {
    this.lastPong = performance.now();
  }

  /** Terminate the thread now. Resolves with the exit reason. */
  kill(cause: 'kill' | 'shutdown-timeout' | 'watchdog' = 'kill'): Promise<ExitReason> {
    if (this.state !== 'dead') {
      this.killCause ??= cause;
      void this.worker.terminate();
    }
    return this.exited;
  }

  /** Orderly stop: ask, wait per the policy, then kill. Resolves with the exit reason. */
  stop(policy: ShutdownPolicy): Promise<ExitReason> {
    if (this.state === 'dead') return this.exited;
    if (policy === 'brutal_kill' || this.state === 'starting') return this.kill('kill');
    if (!this.stopRequested) {
      this.stopRequested = true;
      this.state = 'stopping';
      this.ctl.event('shutdown');
      if (policy !== 'infinity') this.shutdownTimer = setTimeout(() => this.kill('shutdown-timeout'), policy);
    }
    return this.exited;
  }

  private watch(intervalMs: number, timeoutMs: number): void {
    const tick = () => {
      if (this.state === 'dead') return;
      if (performance.now() - this.lastPong > timeoutMs + intervalMs) {
        void this.kill('watchdog');
        return;
      }
      this.ctl.event('ping');
      this.watchdogTimer = setTimeout(tick, intervalMs);
    };
    this.lastPong = performance.now();
    tick();
  }

  private finish(code: number): void {
    if (this.state === 'dead') return;
    // What the thread said before it went (why it failed to start, say) comes first.
    this.ctl.drain();
    const reason: ExitReason = this.killCause
      ? { kind: 'killed', cause: this.killCause }
      : (this.failure ??
        (code === 0 ? { kind: this.stopRequested ? 'shutdown' : 'normal' } : { kind: 'exit', code }));
    this.state = 'dead';
    this.reason = reason;
    clearTimeout(this.watchdogTimer);
    clearTimeout(this.shutdownTimer);
    this.watchdogTimer = this.shutdownTimer = undefined;
    this.ctl.close(new FishnetError('RT_ERR_ACTOR_DEAD', this.name));
    this.mgmt.close(reason);
    this.mgmtPort.close();
    this.settleReady.reject(
      this.startError ??
        new FishnetError('RT_ERR_SPAWN_ABORTED', `${this.name} died while starting`, { data: reason }),
    );
    this.settleExit(reason);
    this.onExit(this);
  }
}
