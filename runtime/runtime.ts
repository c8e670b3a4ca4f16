// The runtime: fishnet's kernel, in the embedding program's main thread.
//
// It starts every actor's thread, keeps the table of actors, monitors, exported
// services and bindings, delivers DOWN, tells each side of a binding when the other
// died, and owns the root of the supervision tree. Actors reach it only through
// their control channel; the embedding program calls it directly.

import { EventEmitter } from 'node:events';
import { basename } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { FishnetError } from '../protocols/errors.ts';
import type {
  ActorDefinition,
  ApiOf,
  ArgsOf,
  ConnectOptions,
  LookupOptions,
  Monitor,
  OnConnect,
} from './actor.ts';
import type { Binding, BindingId, PeerInfo } from './binding/binding.ts';
import {
  agree,
  type ConnectOffer,
  type ConnectRequest,
  connectRequest,
  interfaceId,
  openBinding,
  typedEndpoint,
} from './binding/offer.ts';
import type { InterfaceDescriptor, TypedEndpoint } from './binding/transport-mux.ts';
import { CSpace, type ServiceCapability } from './capabilities.ts';
import { Transfer } from './control.ts';
import { ModuleLoader } from './loader.ts';
import { MonitorTable } from './monitors.ts';
import { NameService } from './names.ts';
import { ThreadPool } from './pool.ts';
import { ActorProcess } from './process.ts';
import { type ActorId, type Down, type ExitReason, HOST_ID, type MonitorRef, NOPROC } from './reasons.ts';
import { ActorRef, SupervisorRef } from './refs.ts';
import { type ActorSpec, checkActorSpec, type ResourceLimits, type SupervisorSpec } from './spec.ts';
import { ROOT, type RuntimeEvent, Supervisor, type SupervisorHost } from './supervisor.ts';

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

interface BindingRecord {
  readonly client: ActorId;
  readonly server: ActorId;
  readonly service: string;
}

type Party = ActorProcess | typeof HOST;
const HOST = Symbol('host');

export class Runtime {
  /** Resolves when the runtime has stopped: `shutdown` after shutdown(), restart-intensity if the root gave up. */
  readonly done: Promise<ExitReason>;
  private readonly events = new EventEmitter();
  private readonly procs = new Map<ActorId, ActorProcess>();
  private readonly byName = new Map<string, ActorProcess>();
  /** Names of the most recently dead actors, so that a late DOWN noproc can name its target. */
  private readonly tombstones = new Map<ActorId, string>();
  private readonly monitors = new MonitorTable();
  private readonly names = new NameService();
  private readonly bindings = new Map<BindingId, BindingRecord>();
  private readonly hostExports = new Map<
    string,
    { onConnect: (endpoint: any) => unknown; iface?: InterfaceDescriptor }
  >();
  private readonly hostBindings = new Map<BindingId, Binding>();
  private readonly loader = new ModuleLoader();
  private readonly pool: ThreadPool;
  private readonly root: Supervisor;
  private nextId = 1;
  /** For default names: taken at once, so that concurrent spawns get different ones. */
  private nextName = 1;
  private nextBinding = 1;
  private state: 'running' | 'stopping' | 'stopped' = 'running';
  private stopping: Promise<void> | undefined;
  private settleDone!: (r: ExitReason) => void;

  constructor(opts: RuntimeOptions = {}) {
    const prestart = opts.prestart ?? 1;
    if (!(Number.isInteger(prestart) && prestart >= 0)) {
      throw new FishnetError('RT_ERR_BAD_SPEC', 'prestart must be an integer >= 0');
    }
    if (opts.limits) checkActorSpec({ module: 'x', limits: opts.limits }, 'runtime options');
    this.done = new Promise((r) => {
      this.settleDone = r;
    });
    this.pool = new ThreadPool(prestart, opts.limits);
    const host: SupervisorHost = {
      startProcess: (spec, owner) => this.startProcess(spec, owner),
      emit: (e) => this.events.emit('event', e),
      escalate: (reason) => void this.stop(reason),
    };
    this.root = new Supervisor(host, {
      name: ROOT,
      intensity: opts.intensity ?? 3,
      periodMs: opts.periodMs ?? 5000,
    });
  }

  // ---- the embedding program's API ------------------------------------------------------

  /**
   * Start an actor under the root supervisor. By default it is temporary (never
   * restarted); give `restart` to have the root restart it.
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
    if (this.byName.has(name)) throw new FishnetError('RT_ERR_NAME_TAKEN', `'${name}'`);
    const started = await this.root.startChild({
      ...spec,
      id: name,
      name,
      restart: spec.restart ?? 'temporary',
    });
    return ActorRef.of(started as ActorProcess);
  }

  /** Start a supervisor (and its children, in order) under the root. */
  async supervise(
    spec: SupervisorSpec & { restart?: 'permanent' | 'transient' | 'temporary' },
  ): Promise<SupervisorRef> {
    this.assertRunning();
    const id = spec?.name ?? `supervisor-${this.nextName++}`;
    const sup = await this.root.startChild({ ...spec, name: id, id, type: 'supervisor' });
    return SupervisorRef.of(sup as Supervisor);
  }

  /** Watch an actor; `down` resolves once, at once with reason noproc if it is not alive. */
  monitor(target: ActorRef | ActorId | string, onDown?: (d: Down) => void): Monitor {
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
    this.monitors.remove(ref);
  }

  /** The live actor with this name, or with this id. */
  whereis(nameOrId: string | ActorId): ActorRef | undefined {
    const p = typeof nameOrId === 'string' ? this.byName.get(nameOrId) : this.procs.get(nameOrId);
    return p && p.state !== 'dead' ? ActorRef.of(p) : undefined;
  }

  /** Mark a service privileged and mint the grants that let actors export it and connect to it. */
  privileged(service: string): ServiceCapability {
    return this.names.reserve(service);
  }

  /** Export a service from the embedding program itself (a plain binding: request/notify/handle). */
  export(service: string, onConnect: OnConnect): void {
    this.assertRunning();
    this.names.export(HOST_ID, service);
    this.hostExports.set(service, { onConnect });
  }

  /** Export a service that speaks a generated interface; onConnect gets each client's server endpoint. */
  serve<S extends TypedEndpoint>(
    iface: InterfaceDescriptor<any, S>,
    service: string,
    onConnect: (server: S) => unknown,
  ): void {
    this.assertRunning();
    this.names.export(HOST_ID, service, interfaceId(iface));
    this.hostExports.set(service, { onConnect, iface });
  }

  /** Bind to a plain service from the embedding program (which holds every capability). */
  async lookup(service: string, opts: LookupOptions = {}): Promise<Binding> {
    this.assertRunning();
    const offer = await this.makeBinding(HOST, service, opts.timeoutMs, {});
    return this.hostBinding(offer, 'client');
  }

  /** Bind to a service that speaks `iface`, on the MessagePort or the shared-memory transport. */
  async connect<C extends TypedEndpoint>(
    iface: InterfaceDescriptor<C, any>,
    service: string,
    opts: ConnectOptions = {},
  ): Promise<C> {
    this.assertRunning();
    const req = connectRequest(iface, opts);
    const offer = await this.makeBinding(HOST, service, opts.timeoutMs, req);
    return typedEndpoint<C>(iface, this.hostBinding(offer, 'client'), offer.rings, 'client');
  }

  on(event: 'event', fn: (e: RuntimeEvent) => void): this {
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
      actors: this.procs.size,
      monitors: this.monitors.size,
      bindings: this.bindings.size,
      idleThreads: this.pool.idleCount,
    };
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

  private async startProcess(spec: ActorSpec, owner: Supervisor): Promise<ActorProcess> {
    this.assertRunning();
    checkActorSpec(spec, 'spawn');
    const name = spec.name!;
    if (this.byName.has(name)) throw new FishnetError('RT_ERR_NAME_TAKEN', `'${name}'`);
    const { cspace, refs } = CSpace.fromSpawn(spec.caps, `spawn ${name}`);
    const loaded = await this.loader.load(spec.module);
    this.assertRunning();
    if (this.byName.has(name)) throw new FishnetError('RT_ERR_NAME_TAKEN', `'${name}'`);

    const id = this.nextId++ as ActorId;
    const thread = this.pool.take(spec.limits);
    const proc = new ActorProcess(
      { id, name, spec, worker: thread.worker, ctlPort: thread.ctlPort, cspace, caps: refs },
      (p) => this.exited(p, owner),
    );
    this.procs.set(id, proc);
    this.byName.set(name, proc);
    proc.ctl.handle(
      (op, arg) => this.actorRequest(proc, op, arg),
      (op, arg) => this.actorEvent(proc, op, arg),
    );
    try {
      proc.assign(loaded.hostUrl, refs);
    } catch (e) {
      await proc.kill();
      throw e;
    }
    await proc.ready;
    this.events.emit('event', { type: 'spawn', id, name, supervisor: owner.name } satisfies RuntimeEvent);
    return proc;
  }

  private exited(p: ActorProcess, owner: Supervisor): void {
    const reason = p.reason!;
    this.procs.delete(p.id);
    this.tombstones.set(p.id, p.name);
    if (this.tombstones.size > 1024) this.tombstones.delete(this.tombstones.keys().next().value!);
    if (this.byName.get(p.name) === p) this.byName.delete(p.name);
    this.names.removeOwner(p.id, p.exports);
    this.monitors.watcherDied(p.id);
    this.monitors.targetDied(p.id, p.name, reason);
    for (const bid of p.bindings) {
      const rec = this.bindings.get(bid);
      if (!rec) continue;
      this.bindings.delete(bid);
      this.peerDied(rec.client === p.id ? rec.server : rec.client, bid, reason);
    }
    this.events.emit('event', { type: 'exit', id: p.id, name: p.name, reason } satisfies RuntimeEvent);
    owner.childExited(p, reason);
  }

  // ---- requests and events from actors ------------------------------------------------

  private actorRequest(p: ActorProcess, op: string, arg: any): unknown {
    switch (op) {
      case 'monitor':
        return this.addMonitor(p.id, arg.target, (d) => {
          if (p.state !== 'dead') p.ctl.event('down', d);
        });
      case 'export': {
        const service = this.serviceName(p, arg, 'export');
        this.names.export(p.id, service, arg.iface);
        p.exports.add(service);
        return service;
      }
      case 'unexport': {
        const service = this.serviceName(p, arg, 'export');
        this.names.unexport(p.id, service);
        p.exports.delete(service);
        return service;
      }
      case 'lookup':
        return this.makeBinding(p, arg, arg.timeoutMs, arg.req ?? {}).then(
          (offer) => new Transfer(offer, [offer.port]),
        );
      case 'whereis': {
        const q = this.byName.get(String(arg.name));
        return q && q.state !== 'dead' ? q.id : undefined;
      }
      default:
        throw new FishnetError('RT_ERR_NO_HANDLER', `control op '${op}'`);
    }
  }

  private actorEvent(p: ActorProcess, op: string, arg: any): void {
    switch (op) {
      case 'ready':
        p.started();
        return;
      case 'failed':
        p.failedToStart(arg.error, arg.reason);
        return;
      case 'pong':
        p.pong();
        return;
      case 'demonitor':
        if (p.monitorsHeld.delete(arg.ref)) this.monitors.remove(arg.ref);
        return;
      case 'unbind':
        this.unbind(arg.bindingId);
        return;
    }
  }

  // ---- monitors ------------------------------------------------------------------------

  private addMonitor(watcher: ActorId, target: unknown, deliver: (d: Down) => void): MonitorRef {
    if (target === HOST_ID)
      throw new FishnetError('RT_ERR_BAD_SPEC', 'the embedding program cannot be monitored');
    if (typeof target !== 'string' && typeof target !== 'number') {
      throw new FishnetError('RT_ERR_BAD_SPEC', 'monitor an actor by its id, name or ActorRef');
    }
    const ref = this.monitors.newRef();
    const p = typeof target === 'string' ? this.byName.get(target) : this.procs.get(target as ActorId);
    if (!p || p.state === 'dead') {
      // Already dead (or never was): DOWN noproc, after the caller has its ref.
      const id = (typeof target === 'number' ? target : -1) as ActorId;
      const name = typeof target === 'string' ? target : (this.tombstones.get(id) ?? `#${id}`);
      setImmediate(() => deliver({ ref, id, name, reason: NOPROC }));
      return ref;
    }
    this.monitors.add(ref, watcher, p.id, deliver);
    if (watcher !== HOST_ID) this.procs.get(watcher)?.monitorsHeld.add(ref);
    return ref;
  }

  // ---- services and bindings ---------------------------------------------------------------

  private serviceName(
    p: Party,
    key: { name?: unknown; slot?: unknown },
    right: 'export' | 'connect',
  ): string {
    if (key.slot !== undefined) {
      if (p === HOST)
        throw new FishnetError('RT_ERR_BAD_CAPABILITY', 'the embedding program names services directly');
      return p.cspace.resolve(key.slot, right).service;
    }
    if (typeof key.name !== 'string' || key.name === '') {
      throw new FishnetError('RT_ERR_BAD_SPEC', 'a service name must be a non-empty string');
    }
    if (p !== HOST && this.names.isPrivileged(key.name) && !p.cspace.holds(key.name, right)) {
      throw new FishnetError('RT_ERR_NOT_PRIVILEGED', `'${key.name}' (${right}) by ${p.name}`);
    }
    return key.name;
  }

  /** Make a binding between `client` and the exporter of a service; returns the client's end. */
  private async makeBinding(
    client: Party,
    key: string | { name?: unknown; slot?: unknown },
    timeoutMs: number | undefined,
    req: ConnectRequest,
  ): Promise<ConnectOffer> {
    const service = this.serviceName(client, typeof key === 'string' ? { name: key } : key, 'connect');
    let owner = this.names.owner(service);
    if (owner === undefined) {
      if (timeoutMs === undefined) throw new FishnetError('RT_ERR_SERVICE_NOT_FOUND', `'${service}'`);
      owner = await this.names.waitFor(service, timeoutMs);
    }
    const clientId = client === HOST ? HOST_ID : client.id;
    const server = owner === HOST_ID ? HOST : this.procs.get(owner);
    if (!server || (client !== HOST && client.state === 'dead')) {
      throw new FishnetError('RT_ERR_SERVICE_NOT_FOUND', `'${service}'`);
    }
    const iface = this.names.interfaceOf(service);
    const [clientRings, serverRings] = agree(service, iface, req);
    const bindingId = this.nextBinding++;
    const { port1, port2 } = new MessageChannel();
    this.bindings.set(bindingId, { client: clientId, server: owner, service });
    if (client !== HOST) client.bindings.add(bindingId);
    if (server !== HOST) server.bindings.add(bindingId);
    const toServer: ConnectOffer = {
      bindingId,
      service,
      peer: peerOf(client),
      port: port2,
      iface,
      rings: serverRings,
    };
    try {
      if (server === HOST) {
        const exp = this.hostExports.get(service)!;
        const b = this.hostBinding(toServer, 'server');
        try {
          await exp.onConnect(exp.iface ? typedEndpoint(exp.iface, b, serverRings, 'server') : b);
        } catch (e) {
          b.close();
          throw FishnetError.wrap(e, 'RT_ERR_CONNECT_REFUSED');
        }
      } else {
        await server.ctl.request('connect', toServer, [port2]);
      }
    } catch (e) {
      this.unbind(bindingId);
      port1.close();
      if (e instanceof FishnetError && e.is('RT_ERR_ACTOR_DEAD')) {
        throw new FishnetError('RT_ERR_PEER_DIED', `'${service}': its exporter died during the connect`);
      }
      throw e;
    }
    if (!this.bindings.has(bindingId)) {
      // The server died while accepting; the client gets a clear error, not a dead binding.
      port1.close();
      throw new FishnetError('RT_ERR_PEER_DIED', `'${service}': its exporter died during the connect`);
    }
    return { bindingId, service, peer: peerOf(server), port: port1, iface, rings: clientRings };
  }

  private hostBinding(offer: ConnectOffer, role: 'client' | 'server'): Binding {
    const b = openBinding(offer, role, (id) => {
      this.hostBindings.delete(id);
      this.unbind(id);
    });
    this.hostBindings.set(b.id, b);
    return b;
  }

  private unbind(bindingId: BindingId): void {
    const rec = this.bindings.get(bindingId);
    if (!rec) return;
    this.bindings.delete(bindingId);
    this.procs.get(rec.client)?.bindings.delete(bindingId);
    this.procs.get(rec.server)?.bindings.delete(bindingId);
  }

  private peerDied(survivor: ActorId, bindingId: BindingId, reason: ExitReason): void {
    if (survivor === HOST_ID) {
      this.hostBindings.get(bindingId)?.peerDied(reason);
      return;
    }
    const p = this.procs.get(survivor);
    if (!p || p.state === 'dead') return;
    p.bindings.delete(bindingId);
    p.ctl.event('disconnect', { bindingId, reason });
  }

  // ---- lifecycle -------------------------------------------------------------------------

  private assertRunning(): void {
    if (this.state !== 'running') throw new FishnetError('RT_ERR_RUNTIME_STOPPED');
  }

  private stop(reason: ExitReason): Promise<void> {
    if (this.stopping) return this.stopping;
    this.state = 'stopping';
    this.stopping = (async () => {
      await this.root.shutdown();
      // Anything left (a start that raced the shutdown) is killed.
      await Promise.all([...this.procs.values()].map((p) => p.kill()));
      await this.pool.close();
      const stopped = new FishnetError('RT_ERR_RUNTIME_STOPPED');
      this.names.close(stopped);
      for (const b of [...this.hostBindings.values()]) b.close();
      this.state = 'stopped';
      this.settleDone(reason);
    })();
    return this.stopping;
  }
}

function peerOf(p: Party): PeerInfo {
  return p === HOST ? { id: HOST_ID, name: 'host' } : { id: p.id, name: p.name };
}
