// Supervisors, with Erlang/OTP's meanings.
//
// A supervisor owns an ordered list of children (actors or supervisors). When a
// child exits, its restart type decides whether it comes back (permanent: always;
// transient: after an abnormal exit; temporary: never), and the strategy decides who
// comes back with it (one_for_one: itself; one_for_all: every sibling; rest_for_one:
// the siblings started after it). More than `intensity` restarts within `periodMs`
// and the supervisor gives up: it stops its children in reverse start order and
// exits with reason restart-intensity, which its own supervisor then handles.
//
// Supervisors are not threads: they are state machines in the kernel (main thread),
// so a tree of them costs nothing while nothing fails. Every operation on one
// supervisor runs in order on its queue, so exits that arrive during a restart are
// handled after it, against the children as they are then.

import { FishnetError } from '../protocols/errors.ts';
import type { ActorProcess } from './process.ts';
import { type ExitReason, isAbnormal } from './reasons.ts';
import {
  type ActorSpec,
  type ChildSpec,
  checkActorSpec,
  checkSupervisorSpec,
  isSupervisorChild,
  type RestartType,
  type ShutdownPolicy,
  type Strategy,
  type SupervisorChildSpec,
  type SupervisorSpec,
} from './spec.ts';

export type RuntimeEvent =
  | { type: 'spawn'; id: number; name: string; supervisor: string }
  | { type: 'exit'; id: number; name: string; reason: ExitReason }
  | {
      type: 'restart';
      supervisor: string;
      child: string;
      strategy: Strategy;
      reason: ExitReason;
      ids: number[];
    }
  | { type: 'give-up'; supervisor: string; restarts: number; periodMs: number }
  | { type: 'start-failed'; supervisor: string; child: string; error: string };

/** What a supervisor needs from the kernel. */
export interface SupervisorHost {
  /** Start an actor owned by `owner`; resolves once its start() has finished. */
  startProcess(spec: ActorSpec, owner: Supervisor): Promise<ActorProcess>;
  emit(e: RuntimeEvent): void;
  /** The root supervisor gave up. */
  escalate(reason: ExitReason): void;
}

interface Child {
  readonly spec: ChildSpec | SupervisorChildSpec;
  proc?: ActorProcess;
  sup?: Supervisor;
}

export interface ChildInfo {
  readonly id: string;
  readonly type: 'worker' | 'supervisor';
  readonly restart: RestartType;
  /** The running actor's id, or undefined when the child is not running. */
  readonly actorId: number | undefined;
}

const DEFAULT_SHUTDOWN_MS = 5000;
export const ROOT = 'root';

export class Supervisor {
  readonly name: string;
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly periodMs: number;
  readonly exited: Promise<ExitReason>;
  private readonly children: Child[] = [];
  private restarts: number[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private state: 'running' | 'stopping' | 'dead' = 'running';
  private settle!: (r: ExitReason) => void;

  constructor(
    private readonly host: SupervisorHost,
    spec: SupervisorSpec,
    private readonly parent?: Supervisor,
  ) {
    checkSupervisorSpec(spec, `supervisor ${spec?.name ?? ''}`.trim());
    const id = (spec as SupervisorChildSpec).id;
    this.name =
      spec.name ?? (parent && parent.name !== ROOT && id ? `${parent.name}/${id}` : (id ?? 'supervisor'));
    this.strategy = spec.strategy ?? 'one_for_one';
    this.intensity = spec.intensity ?? 1;
    this.periodMs = spec.periodMs ?? 5000;
    this.exited = new Promise((r) => {
      this.settle = r;
    });
    for (const c of spec.children ?? []) this.children.push({ spec: c });
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** Start the initial children in order. If one fails, stop those started and fail. */
  init(): Promise<void> {
    return this.serial(async () => {
      try {
        for (const c of this.children) await this.start(c);
      } catch (e) {
        await this.terminateAll();
        this.state = 'dead';
        this.settle({ kind: 'shutdown' });
        throw e;
      }
    });
  }

  /** Add and start a child. Resolves with the started actor process or supervisor. */
  startChild(spec: ChildSpec | SupervisorChildSpec): Promise<ActorProcess | Supervisor> {
    return this.serial(async () => {
      this.assertRunning();
      if (isSupervisorChild(spec)) checkSupervisorSpec(spec, `child '${spec?.id}'`);
      else checkActorSpec(spec, `child '${spec?.id}'`);
      if (this.children.some((c) => c.spec.id === spec.id)) {
        throw new FishnetError('RT_ERR_BAD_SPEC', `${this.name} already has a child '${spec.id}'`);
      }
      const child: Child = { spec };
      this.children.push(child);
      try {
        return await this.start(child);
      } catch (e) {
        this.children.splice(this.children.indexOf(child), 1);
        throw e;
      }
    });
  }

  /**
   * Add and start a temporary child outside this supervisor's queue, so that it
   * starts at once whatever else is starting: two spawns where one waits for a
   * service the other exports must not wait for each other (Erlang's spawn).
   */
  async startIndependent(spec: ChildSpec): Promise<ActorProcess> {
    this.assertRunning();
    checkActorSpec(spec, `child '${spec?.id}'`);
    if (restartOf(spec) !== 'temporary') {
      throw new FishnetError('RT_ERR_BAD_SPEC', 'only a temporary child starts outside the queue');
    }
    const child: Child = { spec };
    this.children.push(child);
    try {
      const proc = (await this.start(child)) as ActorProcess;
      if (this.state !== 'running' || !this.children.includes(child)) {
        // The supervisor stopped while it started: it must not outlive the tree.
        await proc.kill();
        throw new FishnetError('RT_ERR_RUNTIME_STOPPED', `supervisor ${this.name} stopped during the start`);
      }
      return proc;
    } catch (e) {
      const i = this.children.indexOf(child);
      if (i >= 0) this.children.splice(i, 1);
      throw e;
    }
  }

  /** Stop a child in an orderly way. Its spec stays (restartChild starts it again), unless it is temporary. */
  terminateChild(id: string): Promise<void> {
    return this.serial(async () => {
      const child = this.find(id);
      await this.terminate(child);
      if (restartOf(child.spec) === 'temporary') this.children.splice(this.children.indexOf(child), 1);
    });
  }

  restartChild(id: string): Promise<ActorProcess | Supervisor> {
    return this.serial(async () => {
      this.assertRunning();
      const child = this.find(id);
      if (child.proc || child.sup) throw new FishnetError('RT_ERR_BAD_SPEC', `child '${id}' is running`);
      return this.start(child);
    });
  }

  deleteChild(id: string): Promise<void> {
    return this.serial(async () => {
      const child = this.find(id);
      if (child.proc || child.sup) throw new FishnetError('RT_ERR_BAD_SPEC', `child '${id}' is running`);
      this.children.splice(this.children.indexOf(child), 1);
    });
  }

  whichChildren(): ChildInfo[] {
    return this.children.map((c) => ({
      id: c.spec.id,
      type: isSupervisorChild(c.spec) ? 'supervisor' : 'worker',
      restart: restartOf(c.spec),
      actorId: c.proc?.id,
    }));
  }

  /** @internal the running process or supervisor of a child. */
  childNow(id: string): ActorProcess | Supervisor | undefined {
    const c = this.children.find((x) => x.spec.id === id);
    return c?.proc ?? c?.sup;
  }

  /** Orderly stop: children in reverse start order, then this supervisor exits with `shutdown`. */
  shutdown(): Promise<void> {
    return this.serial(async () => {
      if (this.state === 'dead') return;
      this.state = 'stopping';
      await this.terminateAll();
      this.state = 'dead';
      this.settle({ kind: 'shutdown' });
    });
  }

  /** @internal the kernel reports an actor's exit to its owner. */
  childExited(proc: ActorProcess, reason: ExitReason): void {
    void this.serial(async () => {
      const child = this.children.find((c) => c.proc === proc);
      if (!child || this.state !== 'running') return; // one we stopped ourselves, or we are stopping
      child.proc = undefined;
      await this.handleDown(child, reason);
    });
  }

  private subExited(sup: Supervisor, reason: ExitReason): void {
    void this.serial(async () => {
      const child = this.children.find((c) => c.sup === sup);
      if (!child || this.state !== 'running') return;
      child.sup = undefined;
      await this.handleDown(child, reason);
    });
  }

  private async handleDown(child: Child, reason: ExitReason): Promise<void> {
    const restart = restartOf(child.spec);
    if (restart === 'temporary') {
      this.children.splice(this.children.indexOf(child), 1);
      return;
    }
    if (restart === 'transient' && !isAbnormal(reason)) return;

    const index = this.children.indexOf(child);
    const group =
      this.strategy === 'one_for_one'
        ? [child]
        : this.strategy === 'one_for_all'
          ? this.children.filter((c) => c === child || c.proc || c.sup)
          : this.children.filter((c, i) => c === child || (i > index && (c.proc || c.sup)));
    // Temporary siblings are stopped with the group and not started again.
    const gone = group.filter((c) => c !== child && restartOf(c.spec) === 'temporary');
    const restarting = group.filter((c) => !gone.includes(c));
    for (;;) {
      if (!this.countRestart()) return this.giveUp();
      try {
        // Stop whatever of the group runs (on a retry, also what the failed try had
        // started again, the crashed child included) in reverse start order, then
        // start all of it in order.
        for (const c of [...group].reverse()) if (c.proc || c.sup) await this.terminate(c);
        for (const c of gone) {
          const i = this.children.indexOf(c);
          if (i >= 0) this.children.splice(i, 1);
        }
        const ids: number[] = [];
        for (const c of restarting) {
          const started = await this.start(c);
          if ('id' in started) ids.push(started.id);
        }
        this.host.emit({
          type: 'restart',
          supervisor: this.name,
          child: child.spec.id,
          strategy: this.strategy,
          reason,
          ids,
        });
        return;
      } catch (e) {
        // A failed start counts as one more restart; try again until the intensity says stop.
        this.host.emit({
          type: 'start-failed',
          supervisor: this.name,
          child: child.spec.id,
          error: e instanceof Error ? e.message : String(e),
        });
      }
    }
  }

  private countRestart(): boolean {
    const now = performance.now();
    this.restarts = this.restarts.filter((t) => now - t < this.periodMs);
    this.restarts.push(now);
    return this.restarts.length <= this.intensity;
  }

  private async giveUp(): Promise<void> {
    this.state = 'stopping';
    this.host.emit({
      type: 'give-up',
      supervisor: this.name,
      restarts: this.restarts.length,
      periodMs: this.periodMs,
    });
    await this.terminateAll();
    this.state = 'dead';
    const reason: ExitReason = {
      kind: 'restart-intensity',
      restarts: this.restarts.length,
      periodMs: this.periodMs,
    };
    this.settle(reason);
    if (this.parent) this.parent.subExited(this, reason);
    else this.host.escalate(reason);
  }

  private async start(child: Child): Promise<ActorProcess | Supervisor> {
    if (isSupervisorChild(child.spec)) {
      const sup = new Supervisor(this.host, child.spec, this);
      await sup.init();
      child.sup = sup;
      return sup;
    }
    const spec = child.spec;
    // Default names are paths in the tree ('net/driver'), unique among live actors.
    const name = spec.name ?? (this.parent || this.name !== ROOT ? `${this.name}/${spec.id}` : spec.id);
    const proc = await this.host.startProcess({ ...spec, restart: restartOf(spec), name }, this);
    child.proc = proc;
    return proc;
  }

  private async terminate(child: Child): Promise<void> {
    const { proc, sup } = child;
    child.proc = undefined;
    child.sup = undefined;
    if (proc) await proc.stop(shutdownOf(child.spec));
    if (sup) await sup.shutdown();
  }

  private async terminateAll(): Promise<void> {
    for (const c of [...this.children].reverse()) await this.terminate(c);
    this.children.splice(
      0,
      this.children.length,
      ...this.children.filter((c) => restartOf(c.spec) !== 'temporary'),
    );
  }

  private find(id: string): Child {
    const c = this.children.find((x) => x.spec.id === id);
    if (!c) throw new FishnetError('RT_ERR_NOPROC', `${this.name} has no child '${id}'`);
    return c;
  }

  private assertRunning(): void {
    if (this.state !== 'running')
      throw new FishnetError('RT_ERR_RUNTIME_STOPPED', `supervisor ${this.name} is stopping`);
  }

  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op);
    this.queue = run.catch(() => {});
    return run;
  }
}

function restartOf(spec: ChildSpec | SupervisorChildSpec): RestartType {
  return spec.restart ?? 'permanent';
}

function shutdownOf(spec: ChildSpec | SupervisorChildSpec): ShutdownPolicy {
  return isSupervisorChild(spec) ? 'infinity' : (spec.shutdown ?? DEFAULT_SHUTDOWN_MS);
}
