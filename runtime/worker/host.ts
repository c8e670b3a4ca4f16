// The runtime inside an actor's thread: it loads the actor's module, runs start(),
// serves the management channel with Comlink, and carries out the kernel's control
// messages (DOWN, connect, disconnect, shutdown, ping).

import type { MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { FishnetError } from '../../protocols/errors.ts';
import {
  type ActorContext,
  type CapabilityRef,
  type ConnectOptions,
  isActorDefinition,
  type LookupOptions,
  type Monitor,
  type ServeOptions,
} from '../actor.ts';
import type { Binding, BindingId } from '../binding/binding.ts';
import {
  type ConnectOffer,
  connectRequest,
  exportInfo,
  openBinding,
  type RingPolicy,
  typedEndpoint,
} from '../binding/offer.ts';
import type { InterfaceDescriptor } from '../binding/transport-mux.ts';
import { ControlChannel } from '../control.ts';
import { carryFishnetErrors } from '../management.ts';
import { checkFunction, checkOptions, checkTimeout, describeValue } from '../options.ts';
import type { ActorId, Down, ExitReason, MonitorRef } from '../reasons.ts';
import { errorReason } from '../reasons.ts';

/** What the kernel sends to start an actor in a thread. */
export interface Assignment {
  readonly id: ActorId;
  readonly name: string;
  readonly args: unknown;
  readonly mgmt: MessagePort;
  readonly caps: Record<string, CapabilityRef>;
}

type ServiceKey = string | CapabilityRef;

/** An exported service: plain (onConnect gets the Binding) or typed (it gets the server endpoint). */
interface Service {
  readonly onConnect: (endpoint: any) => unknown;
  readonly iface?: InterfaceDescriptor<any, any>;
  readonly ring?: RingPolicy;
}

export async function boot(
  ctlPort: MessagePort,
  queued: unknown[],
  mod: Record<string, unknown>,
): Promise<void> {
  // The kernel's channel: its frames carry offers (ports), and the kernel is trusted.
  const ctl = new ControlChannel(ctlPort, true);
  let assignment: Assignment | undefined;
  let actor: WorkerActor | undefined;
  const ready = new Promise<Assignment>((resolve) => {
    ctl.handle(
      (op, arg) => {
        if (!actor) throw new FishnetError('RT_ERR_SPAWN_ABORTED', `control op '${op}' before start`);
        return actor.request(op, arg);
      },
      (op, arg) => {
        if (op === 'assign') resolve(arg as Assignment);
        else actor?.event(op, arg);
      },
    );
  });
  // Messages that arrived while the boot script was still importing us.
  for (const m of queued) ctlPort.emit('message', m);
  assignment = await ready;

  const fail = (
    code: ConstructorParameters<typeof FishnetError>[0],
    detail: string,
    reason?: ExitReason,
    data?: unknown,
  ) => {
    ctl.event('failed', { error: new FishnetError(code, detail, { data }).toWire(), reason });
    // Let the message leave before the thread goes.
    setImmediate(() => process.exit(1));
  };

  const def = mod.default;
  if (!isActorDefinition(def)) {
    const what = def === undefined ? 'no default export' : `default export is a ${typeof def}`;
    return fail('RT_ERR_NO_ACTOR_EXPORT', `${what}; export default defineActor(...)`);
  }
  actor = new WorkerActor(ctl, assignment);
  let api: unknown;
  try {
    api = await def.start(actor.ctx, assignment.args);
  } catch (e) {
    const reason = errorReason(e);
    return fail(
      'RT_ERR_START_FAILED',
      `${reason.kind === 'error' ? `${reason.name}: ${reason.message}` : ''}`,
      reason,
      // A registry error travels whole, so that whoever spawned can tell which it was.
      e instanceof FishnetError ? e.toWire() : undefined,
    );
  }
  carryFishnetErrors();
  Comlink.expose(api && typeof api === 'object' ? api : {}, assignment.mgmt as unknown as Comlink.Endpoint);
  ctl.event('ready');
}

class WorkerActor {
  readonly ctx: ActorContext;
  private readonly monitors = new Map<MonitorRef, (d: Down) => void>();
  private readonly downHandlers = new Set<(d: Down) => void>();
  private readonly services = new Map<string, Service>();
  private readonly bindings = new Map<BindingId, Binding>();
  private readonly shutdownHooks: (() => void | Promise<void>)[] = [];
  private stopping = false;
  /** Bindings made and not yet ended (whether or not still in the table). */
  private open = 0;

  constructor(
    private readonly ctl: ControlChannel,
    private readonly a: Assignment,
  ) {
    // However the thread ends (ctx.exit, process.exit), what was sent on a ring but
    // still batched is published first, so the peer receives it.
    process.on('exit', () => {
      for (const b of this.bindings.values()) b.flushCodec();
    });
    this.ctx = Object.freeze({
      self: a.id,
      name: a.name,
      args: a.args,
      caps: Object.freeze({ ...a.caps }),
      monitor: (target: ActorId | string) => this.monitor(target),
      demonitor: (ref: MonitorRef) => this.demonitor(ref),
      onDown: (fn: (d: Down) => void) => {
        this.downHandlers.add(fn);
        return () => this.downHandlers.delete(fn);
      },
      export: (service: ServiceKey, onConnect: (b: Binding) => unknown) =>
        this.export(service, { onConnect }),
      serve: (
        iface: InterfaceDescriptor<any, any>,
        service: ServiceKey,
        onConnect: (s: any) => unknown,
        opts?: ServeOptions,
      ) => {
        const o = checkOptions<ServeOptions>(opts, 'serve options', ['ring']);
        return this.export(service, { onConnect, iface, ring: o.ring });
      },
      unexport: (service: ServiceKey) => this.unexport(service),
      lookup: (service: ServiceKey, opts?: LookupOptions) => this.lookup(service, opts),
      connect: (iface: InterfaceDescriptor<any, any>, service: ServiceKey, opts?: ConnectOptions) =>
        this.connect(iface, service, opts),
      whereis: (name: string) => ctl.request<ActorId | undefined>('whereis', { name }),
      onShutdown: (fn: () => void | Promise<void>) => {
        this.shutdownHooks.push(fn);
      },
      exit: (code = 0): never => process.exit(code),
    });
  }

  private async monitor(target: ActorId | string): Promise<Monitor> {
    if (typeof target !== 'string' && typeof target !== 'number') {
      throw new FishnetError(
        'RT_ERR_BAD_SPEC',
        `monitor an actor by its id or name, not ${describeValue(target)}`,
      );
    }
    const ref = await this.ctl.request<MonitorRef>('monitor', { target });
    const down = new Promise<Down>((resolve) => this.monitors.set(ref, resolve));
    return { ref, target, down };
  }

  private demonitor(ref: MonitorRef): void {
    // Forget it here first: a DOWN already on its way is dropped on arrival.
    this.monitors.delete(ref);
    this.ctl.event('demonitor', { ref });
  }

  private async export(service: ServiceKey, svc: Service): Promise<void> {
    checkFunction(svc.onConnect, 'export: onConnect');
    const key = keyArg(service);
    const iface = svc.iface ? exportInfo(svc.iface, svc.ring) : undefined;
    // Install the handler before asking: a client waiting for this name is connected
    // as soon as the kernel has it, which can be before its reply reaches us.
    const local = key.name ?? (service as CapabilityRef).service;
    if (this.services.has(local))
      throw new FishnetError('RT_ERR_SERVICE_EXISTS', `'${local}' is exported by this actor`);
    this.services.set(local, svc);
    try {
      const name = await this.ctl.request<string>('export', { ...key, iface });
      if (name !== local) {
        this.services.delete(local);
        this.services.set(name, svc);
      }
    } catch (e) {
      this.services.delete(local);
      throw e;
    }
  }

  private async unexport(service: ServiceKey): Promise<void> {
    const name = await this.ctl.request<string>('unexport', keyArg(service));
    this.services.delete(name);
  }

  private async lookup(service: ServiceKey, opts: LookupOptions = {}): Promise<Binding> {
    const o = checkOptions<LookupOptions>(opts, 'lookup options', ['timeoutMs']);
    const offer = await this.ctl.request<ConnectOffer>('lookup', {
      ...keyArg(service),
      timeoutMs: checkTimeout(o.timeoutMs, 'lookup: timeoutMs'),
    });
    return this.bind(offer, 'client');
  }

  private async connect(
    iface: InterfaceDescriptor<any, any>,
    service: ServiceKey,
    opts: ConnectOptions = {},
  ): Promise<any> {
    const o = checkOptions<ConnectOptions>(opts, 'connect options', ['timeoutMs', 'transport', 'capacity']);
    const req = connectRequest(iface, o);
    const offer = await this.ctl.request<ConnectOffer>('lookup', {
      ...keyArg(service),
      timeoutMs: checkTimeout(o.timeoutMs, 'connect: timeoutMs'),
      req,
    });
    const b = this.bind(offer, 'client');
    try {
      return typedEndpoint(iface, b, offer.rings, 'client');
    } catch (e) {
      b.close();
      throw e;
    }
  }

  private bind(offer: ConnectOffer, role: 'client' | 'server'): Binding {
    this.open++;
    const b = openBinding(offer, role, (id) => {
      this.open--;
      this.bindings.delete(id);
      this.ctl.event('unbind', { bindingId: id });
    });
    this.bindings.set(b.id, b);
    return b;
  }

  /** Requests from the kernel. */
  async request(op: string, arg: any): Promise<unknown> {
    switch (op) {
      case 'connect': {
        const offer = arg as ConnectOffer;
        const svc = this.services.get(offer.service);
        if (!svc || this.stopping) {
          offer.port.close();
          throw new FishnetError('RT_ERR_SERVICE_NOT_FOUND', `'${offer.service}' is no longer exported here`);
        }
        const b = this.bind(offer, 'server');
        try {
          await svc.onConnect(svc.iface ? typedEndpoint(svc.iface, b, offer.rings, 'server') : b);
        } catch (e) {
          // Refused: this side's binding (and its endpoint's ring reader) ends here too.
          b.discard();
          throw FishnetError.wrap(e, 'RT_ERR_CONNECT_REFUSED');
        }
        return true;
      }
      case 'tables':
        return {
          bindings: this.bindings.size,
          open: this.open,
          services: this.services.size,
          monitors: this.monitors.size,
        };
      default:
        throw new FishnetError('RT_ERR_NO_HANDLER', `control op '${op}'`);
    }
  }

  /** Events from the kernel. */
  event(op: string, arg: any): void {
    switch (op) {
      case 'down': {
        const d = arg as Down;
        const resolve = this.monitors.get(d.ref);
        if (!resolve) return; // demonitored
        this.monitors.delete(d.ref);
        resolve(d);
        for (const fn of this.downHandlers) fn(d);
        return;
      }
      case 'disconnect':
        this.bindings.get(arg.bindingId)?.peerDied(arg.reason as ExitReason);
        return;
      case 'closed':
        this.bindings.get(arg.bindingId)?.peerClosed();
        return;
      case 'ping':
        this.ctl.event('pong');
        return;
      case 'shutdown':
        void this.shutdown();
        return;
    }
  }

  private async shutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const hook of this.shutdownHooks.reverse()) {
      try {
        await hook();
      } catch (e) {
        console.error(`[fishnet] ${this.a.name}: shutdown hook threw:`, e);
      }
    }
    process.exit(0);
  }
}

function keyArg(service: ServiceKey): { name?: string; slot?: number } {
  if (typeof service === 'string') return { name: service };
  if (service && typeof service === 'object' && typeof service.slot === 'number')
    return { slot: service.slot };
  throw new FishnetError('RT_ERR_BAD_SPEC', 'a service is named by a string or a capability from ctx.caps');
}
