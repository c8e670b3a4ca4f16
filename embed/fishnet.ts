// The one entry point for embedding fishnet: a network of machines in your program.
//
//   const net = await createNetwork();                    // a virtual switch
//   const a = await net.boot({ name: 'a', address: '10.0.0.1/24' });
//   const b = await net.boot({ name: 'b', address: { dhcp: {} } });
//   const app = await b.spawn({ module: new URL('./app.ts', import.meta.url) });
//   console.log(await b.inspect());
//   await net.close();                                    // nothing left running
//
// It owns a Runtime (or uses yours), the switch, any VXLAN uplink, every machine and
// every application spawned on one; close() stops them all, in order.

import type { FramePort, VxlanOptions, VxlanPort } from '../lib/phy/index.ts';
import { checkOptions } from '../lib/phy/options.ts';
import { FishnetError } from '../protocols/errors.ts';
import { type ActorRef, type ActorSpec, Runtime, type RuntimeOptions } from '../runtime/index.ts';
import { type ControlHandlers, ControlServer } from './control.ts';
import { Machine, type MachineOptions } from './machine.ts';
import { Network } from './network.ts';

export interface NetworkOptions {
  /** A runtime of yours to run on (it is not shut down by close()); default: one of its own. */
  readonly runtime?: Runtime;
  readonly runtimeOptions?: RuntimeOptions;
  /** Carry the segment over VXLAN too (to the Linux kernel's vxlan device, or another process). */
  readonly vxlan?: VxlanOptions;
}

/** An application on a machine: `args.machine` is the machine's name (its stack finds netd by it). */
export interface AppSpec<Args = unknown> extends Omit<ActorSpec<Args>, 'caps'> {
  /** Hand it the capability to open ports below 1024. */
  readonly lowPorts?: boolean;
}

export class FishnetMachine {
  private readonly apps = new Set<ActorRef>();
  /** Applications ever spawned here: default names count up and are never reused. */
  private spawned = 0;
  private control: ControlServer | undefined;

  constructor(
    readonly machine: Machine,
    private readonly rt: Runtime,
  ) {}

  get name(): string {
    return this.machine.name;
  }

  get mac(): number {
    return this.machine.mac;
  }

  /**
   * Start an application actor on this machine. Its args gain `machine` (this
   * machine's name). Type its API with `spawn<ApiOf<typeof MyActor>>(...)`.
   */
  async spawn<Api = unknown, A extends object = Record<string, unknown>>(
    spec: AppSpec<A>,
  ): Promise<ActorRef<Api>> {
    const { lowPorts, ...rest } = spec;
    const args = { ...(spec.args ?? {}), machine: this.name };
    const ref = await this.rt.spawn({
      ...rest,
      name: spec.name ?? `${this.name}/${appName(spec.module)}-${++this.spawned}`,
      args,
      caps: lowPorts ? { lowPorts: this.machine.lowPortGrant } : undefined,
    });
    this.apps.add(ref);
    void ref.exited.then(() => this.apps.delete(ref));
    return ref as ActorRef<Api>;
  }

  /**
   * Kill an application and wait until netd and the driver have let go of it (its
   * ports closed, its filters and buffers gone); resolves with how long that took.
   */
  async kill(app: ActorRef<unknown>, timeoutMs = 5000): Promise<{ cleanupMs: number }> {
    const t0 = performance.now();
    await app.kill();
    // Both say the moment they let go; neither is polled.
    const [ports, driver] = await Promise.all([
      this.machine.netd ? this.machine.netd.api.released(app.id, timeoutMs) : true,
      this.machine.driver.api.released(app.id, timeoutMs),
    ]);
    if (!(ports && driver)) {
      const who = [ports ? '' : 'netd (its ports)', driver ? '' : 'the driver (its buffers or filters)'];
      throw new FishnetError(
        'RT_ERR_TIMEOUT',
        `${app.name}: still held by ${who.filter(Boolean).join(' and ')} after ${timeoutMs} ms`,
      );
    }
    return { cleanupMs: performance.now() - t0 };
  }

  /** Applications running on this machine now. */
  get running(): ActorRef[] {
    return [...this.apps];
  }

  inspect() {
    return this.machine.inspect();
  }

  /**
   * Serve this machine's control socket, so that `fishnet ports|filters|stats --name
   * <name>` read it from a shell while your program runs (ops: ports, filters, lease,
   * stats, inspect, and any of yours). Closed by shutdown().
   */
  async serveControl(extra: ControlHandlers = {}): Promise<ControlServer> {
    if (this.control)
      throw new FishnetError('RT_ERR_NAME_TAKEN', `${this.name} serves its control socket already`);
    this.control = await ControlServer.listen(this.name, {
      ports: async () => (await this.inspect()).ports,
      filters: async () => (await this.inspect()).filters,
      lease: async () => (await this.inspect()).lease,
      stats: async () => {
        const v = await this.inspect();
        const { ports: _p, filters: _f, name, ...rest } = v;
        return { machine: name, ...rest, apps: [] };
      },
      inspect: () => this.inspect(),
      ...extra,
    });
    return this.control;
  }

  /** Stop its applications, then the machine. */
  async shutdown(): Promise<void> {
    await this.control?.close();
    this.control = undefined;
    await Promise.all([...this.apps].map((a) => a.stop(2000)));
    await this.machine.shutdown();
  }
}

export class FishnetNetwork {
  readonly network = new Network();
  private readonly machines = new Map<string, FishnetMachine>();
  private uplink: VxlanPort | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    readonly runtime: Runtime,
    private readonly ownsRuntime: boolean,
  ) {}

  static async create(opts: NetworkOptions = {}): Promise<FishnetNetwork> {
    checkOptions('createNetwork', opts, ['runtime', 'runtimeOptions', 'vxlan']);
    if (opts.runtime !== undefined && !(opts.runtime instanceof Runtime)) {
      throw new TypeError("createNetwork: option 'runtime' must be a Runtime");
    }
    const rt = opts.runtime ?? new Runtime(opts.runtimeOptions);
    const net = new FishnetNetwork(rt, !opts.runtime);
    try {
      if (opts.vxlan) net.uplink = await net.network.vxlan(opts.vxlan);
    } catch (e) {
      await net.close();
      throw e;
    }
    return net;
  }

  /** Boot a machine on this network: its NIC, driver and (with an address) netd. */
  async boot(options: MachineOptions): Promise<FishnetMachine> {
    if (this.closing) throw new FishnetError('RT_ERR_RUNTIME_STOPPED', 'the network is closing');
    if (this.machines.has(options?.name)) {
      throw new FishnetError('RT_ERR_NAME_TAKEN', `a machine named '${options.name}' is on this network`);
    }
    const m = new FishnetMachine(await Machine.boot(this.runtime, this.network, options), this.runtime);
    this.machines.set(m.name, m);
    return m;
  }

  machine(name: string): FishnetMachine | undefined {
    return this.machines.get(name);
  }

  /** A cable end on the switch: frames sent on it are on the wire; set its receiver to see the wire. */
  tap(): FramePort {
    return this.network.tap();
  }

  get vxlan(): VxlanPort | undefined {
    return this.uplink;
  }

  /** Everything stops: applications, machines (drivers, netd, NIC threads), links, and the runtime if it is ours. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const m of [...this.machines.values()].reverse()) await m.shutdown();
      this.machines.clear();
      if (this.ownsRuntime) await this.runtime.shutdown();
      await this.network.close();
    })();
    return this.closing;
  }
}

/** A network (the virtual switch; VXLAN as an option) to boot machines on. */
export function createNetwork(opts?: NetworkOptions): Promise<FishnetNetwork> {
  return FishnetNetwork.create(opts);
}

/** 'udp-echo' for .../udp-echo.ts, and for .../udp-echo/main.ts too. */
function appName(module: string | URL): string {
  const parts = (module instanceof URL ? module.pathname : module).split('/');
  const base = parts.at(-1)!.replace(/\.[^.]*$/, '');
  return (base === 'main' || base === 'index') && parts.length > 1 ? parts.at(-2)! : base;
}
