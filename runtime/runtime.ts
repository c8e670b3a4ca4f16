// The runtime: fishnet's kernel, in the embedding program's main thread.
//
// It starts every actor's thread, owns the root of the supervision tree and the
// kernel's tables (actors, monitors, names, bindings), and is the embedding program's
// way in. The tables' jobs live in their own modules: the process table (table.ts),
// monitors (monitors.ts), the name service (names.ts), the binding broker
// (broker.ts) and what actors may ask over their control channel (dispatch.ts).

import { EventEmitter } from 'node:events';
import { basename } from 'node:path';
import { FishnetError } from '../protocols/errors.ts';
import type {
  ActorDefinition,
  ApiOf,
  ArgsOf,
  ConnectOptions,
  LookupOptions,
  Monitor,
  OnConnect,
  ServeOptions,
} from './actor.ts';
import type { Binding } from './binding/binding.ts';
import { connectRequest, exportInfo, typedEndpoint } from './binding/offer.ts';
import type { InterfaceDescriptor, TypedEndpoint } from './binding/transport-mux.ts';
import { BindingBroker, HOST } from './broker.ts';
import { CSpace, type ServiceCapability } from './capabilities.ts';
import { ActorCalls } from './dispatch.ts';
import { ModuleLoader } from './loader.ts';
import { MonitorTable } from './monitors.ts';
import { NameService } from './names.ts';
import {
  checkFunction,
  checkInteger,
  checkName,
  checkOptions,
  checkPositive,
  checkTimeout,
  describeValue,
} from './options.ts';
import { ThreadPool } from './pool.ts';
import { ActorProcess } from './process.ts';
import { type ActorId, type Down, type ExitReason, HOST_ID, type MonitorRef, NOPROC } from './reasons.ts';
import { ActorRef, SupervisorRef } from './refs.ts';
import {
  type ActorSpec,
  checkActorSpec,
  checkSupervisorSpec,
  type ResourceLimits,
  type SupervisorSpec,
} from './spec.ts';
import { ROOT, type RuntimeEvent, Supervisor, type SupervisorHost } from './supervisor.ts';
import { ProcessTable, RESERVATION, type Reserved } from './table.ts';

export interface RuntimeOptions {
  /**
   * Threads kept booted and idle so that spawns skip thread start-up (default 1).
   * Measured here: spawn p50 ~19-28 ms from a warm thread, ~50-74 ms from a cold one.
   */
  readonly prestart?: number;
  /** Resource limits of every thread unless a spawn gives its own. */
  readonly limits?: ResourceLimits;
  /** Restart intensity of the root supervisor (default 3 restarts in 5000 ms). */
  readonly intensity?: number;
  readonly periodMs?: number;
}

export class Runtime {
  /** Resolves when the runtime has stopped: `shutdown` after shutdown(), restart-intensity if the root gave up. */
  readonly done: Promise<ExitReason>;
  private readonly events = new EventEmitter();
  private readonly table = new ProcessTable();
  private readonly monitors = new MonitorTable();
  private readonly names = new NameService();
  private readonly broker = new BindingBroker(this.table, this.names);
  private readonly calls: ActorCalls;
  private readonly loader = new ModuleLoader();
  private readonly pool: ThreadPool;
  private readonly root: Supervisor;
  /** For default names: taken at once, so that concurrent spawns get different ones. */
  private nextName = 1;
  private state: 'running' | 'stopping' | 'stopped' = 'running';
  private stopping: Promise<void> | undefined;
  private settleDone!: (r: ExitReason) => void;

  constructor(opts: RuntimeOptions = {}) {
    const o = checkOptions<RuntimeOptions>(opts, 'Runtime options', [
      'prestart',
      'limits',
      'intensity',
      'periodMs',
    ]);
    const prestart = o.prestart === undefined ? 1 : checkInteger(o.prestart, 'prestart', 0, 64);
    if (o.limits !== undefined) checkActorSpec({ module: 'x', limits: o.limits }, 'Runtime options');
    const intensity = o.intensity === undefined ? 3 : checkInteger(o.intensity, 'intensity', 0, 1_000_000);
    const periodMs = o.periodMs === undefined ? 5000 : checkPositive(o.periodMs, 'periodMs');
    this.done = new Promise((r) => {
      this.settleDone = r;
    });
    this.calls = new ActorCalls({
      table: this.table,
      monitors: this.monitors,
      names: this.names,
      broker: this.broker,
      addMonitor: (w, t, d) => this.addMonitor(w, t, d),
    });
    this.pool = new ThreadPool(prestart, o.limits);
    const host: SupervisorHost = {
      startProcess: (spec, owner) => this.startProcess(spec, owner),
      emit: (e) => this.events.emit('event', e),
      escalate: (reason) => void this.stop(reason),
    };
    this.root = new Supervisor(host, { name: ROOT, intensity, periodMs });
  }

  // ---- the embedding program's API ------------------------------------------------------

  /**
   * Start an actor. By default it is temporary (never restarted) and starts on its
   * own, as Erlang's spawn does; with `restart` it becomes a child that the root
   * supervisor restarts. Either way shutdown() stops it.
   */
  async spawn<D extends ActorDefinition = ActorDefinition>(
    spec: ActorSpec<ArgsOf<D>>,
  ): Promise<ActorRef<ApiOf<D>>> {
    this.assertRunning();
    checkActorSpec(spec, 'spawn');
    const base = basename(String(spec.module instanceof URL ? spec.module.pathname : spec.module)).replace(
      /\.[^.]*$/,
      '',
    );
    const name = spec.name ?? `${base}-${this.nextName++}`;
    const restart = spec.restart ?? 'temporary';
    // The name is taken now: a second spawn of it fails at once, not after a thread started.
    const token = this.table.reserve(name);
    try {
      const child = { ...spec, id: name, name, restart, [RESERVATION]: token };
      const started =
        restart === 'temporary' ? await this.root.startIndependent(child) : await this.root.startChild(child);
      return ActorRef.of(started as ActorProcess);
    } finally {
      this.table.unreserve(name, token);
    }
  }

  /** Start a supervisor (and its children, in order) under the root. */
  async supervise(
    spec: SupervisorSpec & { restart?: 'permanent' | 'transient' | 'temporary' },
  ): Promise<SupervisorRef> {
    this.assertRunning();
    checkSupervisorSpec(spec, 'supervise');
    const id = spec.name ?? `supervisor-${this.nextName++}`;
    const sup = await this.root.startChild({ ...spec, name: id, id, type: 'supervisor' });
    return SupervisorRef.of(sup as Supervisor);
  }

  /**
   * Stop, in an orderly way, an actor spawned here or a supervisor started here (its
   * children in reverse start order), and forget it: it is not restarted.
   */
  async terminate(target: ActorRef | SupervisorRef): Promise<void> {
    if (!(target instanceof ActorRef) && !(target instanceof SupervisorRef)) {
      throw new FishnetError(
        'RT_ERR_BAD_SPEC',
        `terminate: an ActorRef or a SupervisorRef, not ${describeValue(target)}`,
      );
    }
    const id = target.name;
    if (!this.root.whichChildren().some((c) => c.id === id)) {
      throw new FishnetError('RT_ERR_NOPROC', `'${id}' was not started by this runtime`);
    }
    await this.root.terminateChild(id);
    if (this.root.whichChildren().some((c) => c.id === id)) await this.root.deleteChild(id);
  }

  /** Watch an actor; `down` resolves once, at once with reason noproc if it is not alive. */
  monitor(target: ActorRef | ActorId | string, onDown?: (d: Down) => void): Monitor {
    if (onDown !== undefined) checkFunction(onDown, 'monitor: onDown');
    const t = target instanceof ActorRef ? target.id : target;
    let resolve!: (d: Down) => void;
    const down = new Promise<Down>((r) => {
      resolve = (d) => {
        r(d);
        onDown?.(d);
      };
    });
    const ref = this.addMonitor(HOST_ID, t, resolve);
    return { ref, target: t, down };
  }

  demonitor(ref: MonitorRef): void {
    if (typeof ref !== 'number')
      throw new FishnetError('RT_ERR_BAD_SPEC', `demonitor: a monitor ref, not ${describeValue(ref)}`);
    this.monitors.removeHeldBy(HOST_ID, ref);
  }

  /** The live actor with this name, or with this id. */
  whereis(nameOrId: string | ActorId): ActorRef | undefined {
    if (typeof nameOrId !== 'string' && typeof nameOrId !== 'number') {
      throw new FishnetError('RT_ERR_BAD_SPEC', `whereis: a name or an id, not ${describeValue(nameOrId)}`);
    }
    const p = this.table.live(nameOrId);
    return p ? ActorRef.of(p) : undefined;
  }

  /** Mark a service privileged and mint the grants that let actors export it and connect to it. */
  privileged(service: string): ServiceCapability {
    return this.names.reserve(checkName(service, 'privileged: the service name'));
  }

  /** Export a service from the embedding program itself (a plain binding: request/notify/handle). */
  export(service: string, onConnect: OnConnect): void {
    this.assertRunning();
    checkName(service, 'export: the service name');
    checkFunction(onConnect, 'export: onConnect');
    this.names.export(HOST_ID, service);
    this.broker.hostExport(service, { onConnect });
  }

  /** Export a service that speaks a generated interface; onConnect gets each client's server endpoint. */
  serve<S extends TypedEndpoint>(
    iface: InterfaceDescriptor<any, S>,
    service: string,
    onConnect: (server: S) => unknown,
    opts: ServeOptions = {},
  ): void {
    this.assertRunning();
    checkName(service, 'serve: the service name');
    checkFunction(onConnect, 'serve: onConnect');
    const o = checkOptions<ServeOptions>(opts, 'serve options', ['ring']);
    this.names.export(HOST_ID, service, exportInfo(iface, o.ring));
    this.broker.hostExport(service, { onConnect, iface });
  }

  /** Withdraw a service the embedding program exported (export or serve). */
  unexport(service: string): void {
    this.names.unexport(HOST_ID, checkName(service, 'unexport: the service name'));
  }

  /** Bind to a plain service from the embedding program (which holds every capability). */
  async lookup(service: string, opts: LookupOptions = {}): Promise<Binding> {
    this.assertRunning();
    const o = checkOptions<LookupOptions>(opts, 'lookup options', ['timeoutMs']);
    const timeoutMs = checkTimeout(o.timeoutMs, 'lookup: timeoutMs');
    const offer = await this.broker.connect(HOST, { name: service }, timeoutMs, {});
    return this.broker.hostBinding(offer, 'client');
  }

  /** Bind to a service that speaks `iface`, on the MessagePort or the shared-memory transport. */
  async connect<C extends TypedEndpoint>(
    iface: InterfaceDescriptor<C, any>,
    service: string,
    opts: ConnectOptions = {},
  ): Promise<C> {
    this.assertRunning();
    const o = checkOptions<ConnectOptions>(opts, 'connect options', ['timeoutMs', 'transport', 'capacity']);
    const timeoutMs = checkTimeout(o.timeoutMs, 'connect: timeoutMs');
    const req = connectRequest(iface, o);
    const offer = await this.broker.connect(HOST, { name: service }, timeoutMs, req);
    const b = this.broker.hostBinding(offer, 'client');
    try {
      return typedEndpoint<C>(iface, b, offer.rings, 'client');
    } catch (e) {
      // The rings the server's side made do not fit this interface: no binding is left.
      b.close();
      throw e;
    }
  }

  on(event: 'event', fn: (e: RuntimeEvent) => void): this {
    checkFunction(fn, "on('event')");
    this.events.on(event, fn);
    return this;
  }

  off(event: 'event', fn: (e: RuntimeEvent) => void): this {
    this.events.off(event, fn);
    return this;
  }

  /** Counts of what the kernel holds, for tests and inspection. */
  stats(): { actors: number; monitors: number; bindings: number; idleThreads: number } {
    return {
      actors: this.table.size,
      monitors: this.monitors.size,
      bindings: this.broker.size,
      idleThreads: this.pool.idleCount,
    };
  }

  /** @internal every table that could grow, by size: tests check that each returns to its size. */
  tables(): Record<string, number> {
    let timers = 0;
    let inFlight = 0;
    for (const p of this.table.all()) {
      timers += p.timerCount;
      inFlight += p.mgmt.inFlight;
    }
    return {
      actors: this.table.size,
      reservedNames: this.table.reservations,
      monitors: this.monitors.size,
      monitorIndex: this.monitors.indexSize,
      bindings: this.broker.size,
      hostBindings: this.broker.hostSize,
      lookupWaiters: this.names.waiting,
      processTimers: timers,
      managementCalls: inFlight,
    };
  }

  /** @internal what an actor's own thread holds (its bindings, exports, monitors), for the same tests. */
  actorTables(ref: ActorRef): Promise<Record<string, number>> {
    const p = this.table.get(ref.id);
    if (!p) return Promise.reject(new FishnetError('RT_ERR_NOPROC', ref.name));
    return p.ctl.request('tables', undefined, undefined, 5000);
  }

  /**
   * Stop everything: the supervision tree in reverse start order (each actor gets
   * its shutdown time, then is killed), idle threads, waiting lookups. Afterwards no
   * thread, port or timer of the runtime's is left.
   */
  shutdown(): Promise<void> {
    return this.stop({ kind: 'shutdown' });
  }

  // ---- spawning --------------------------------------------------------------------------

  private async startProcess(spec: ActorSpec & Reserved, owner: Supervisor): Promise<ActorProcess> {
    this.assertRunning();
    checkActorSpec(spec, 'spawn');
    const name = spec.name!;
    const token = this.table.claim(name, spec[RESERVATION]);
    try {
      const { cspace, refs } = CSpace.fromSpawn(spec.caps, `spawn ${name}`);
      const loaded = await this.loader.load(spec.module);
      this.assertRunning();
      const thread = this.pool.take(spec.limits);
      const proc = new ActorProcess(
        {
          id: this.table.newId(),
          name,
          spec,
          worker: thread.worker,
          ctlPort: thread.ctlPort,
          cspace,
          caps: refs,
        },
        (p) => this.exited(p, owner),
      );
      this.table.add(proc);
      proc.ctl.handle(
        (op, arg) => this.calls.request(proc, op, arg),
        (op, arg) => this.calls.event(proc, op, arg),
      );
      proc.assign(loaded.hostUrl, refs);
      await proc.ready;
      this.events.emit('event', {
        type: 'spawn',
        id: proc.id,
        name,
        supervisor: owner.name,
      } satisfies RuntimeEvent);
      return proc;
    } finally {
      this.table.unreserve(name, token);
    }
  }

  private exited(p: ActorProcess, owner: Supervisor): void {
    const reason = p.reason!;
    this.table.remove(p);
    this.names.removeOwner(p.id, p.exports);
    this.names.cancelWaits(p.id, new FishnetError('RT_ERR_ACTOR_DEAD', p.name));
    this.monitors.watcherDied(p.id);
    this.monitors.targetDied(p.id, p.name, reason);
    this.broker.partyDied(p, reason);
    // An actor that never started (its start() threw) was never announced: no exit for it.
    if (p.wasReady) {
      this.events.emit('event', { type: 'exit', id: p.id, name: p.name, reason } satisfies RuntimeEvent);
    }
    owner.childExited(p, reason);
  }

  // ---- monitors ------------------------------------------------------------------------

  private addMonitor(watcher: ActorId, target: unknown, deliver: (d: Down) => void): MonitorRef {
    if (target === HOST_ID)
      throw new FishnetError('RT_ERR_BAD_SPEC', 'the embedding program cannot be monitored');
    if (
      !(typeof target === 'string' && target !== '') &&
      !(typeof target === 'number' && Number.isInteger(target))
    ) {
      throw new FishnetError(
        'RT_ERR_BAD_SPEC',
        `monitor an actor by its id, name or ActorRef, not ${describeValue(target)}`,
      );
    }
    const ref = this.monitors.newRef();
    const p = this.table.live(target as ActorId | string);
    if (!p) {
      // Already dead (or never was): DOWN noproc, after the caller has its ref.
      const id = (typeof target === 'number' ? target : -1) as ActorId;
      const name = typeof target === 'string' ? target : (this.table.tombstone(id) ?? `#${id}`);
      setImmediate(() => deliver({ ref, id, name, reason: NOPROC }));
      return ref;
    }
    this.monitors.add(ref, watcher, p.id, deliver);
    return ref;
  }

  // ---- lifecycle -------------------------------------------------------------------------

  private assertRunning(): void {
    if (this.state !== 'running') throw new FishnetError('RT_ERR_RUNTIME_STOPPED');
  }

  private stop(reason: ExitReason): Promise<void> {
    if (this.stopping) return this.stopping;
    this.state = 'stopping';
    this.stopping = (async () => {
      // A start() that never returns would hold its supervisor's queue, and this
      // shutdown behind it: actors still starting are killed first.
      await Promise.all(
        this.table
          .all()
          .filter((p) => p.state === 'starting')
          .map((p) => p.kill()),
      );
      await this.root.shutdown();
      // Anything left (a start that raced the shutdown) is killed.
      await Promise.all(this.table.all().map((p) => p.kill()));
      await this.pool.close();
      const stopped = new FishnetError('RT_ERR_RUNTIME_STOPPED');
      this.names.close(stopped);
      this.broker.closeHost();
      this.state = 'stopped';
      this.settleDone(reason);
    })();
    return this.stopping;
  }
}
