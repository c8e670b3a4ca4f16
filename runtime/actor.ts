// What an actor module exports, and the context the runtime hands to it.
//
//   export default defineActor(async (ctx, args: { greeting: string }) => {
//     await ctx.export('greeter', (b) => b.handle('hello', (who) => `${args.greeting}, ${who}`));
//     return { stats: () => ({ served: 0 }) };   // management API, reachable as ref.api
//   });

import type { Binding } from './binding/binding.ts';
import type { RingPolicy } from './binding/offer.ts';
import type { InterfaceDescriptor, Transport, TypedEndpoint } from './binding/transport-mux.ts';
import type { ActorId, Down, MonitorRef } from './reasons.ts';

const ACTOR_BRAND = Symbol.for('fishnet.actor');

export type StartFn<Args, Api> = (ctx: ActorContext<Args>, args: Args) => Api | void | Promise<Api | void>;

export interface ActorDefinition<Args = any, Api extends object = {}> {
  readonly [ACTOR_BRAND]: true;
  readonly start: StartFn<Args, Api>;
}

/** Mark a module's default export as an actor. start() runs once in the actor's thread. */
export function defineActor<Args = undefined, Api extends object = {}>(
  start: StartFn<Args, Api>,
): ActorDefinition<Args, Api> {
  if (typeof start !== 'function') throw new TypeError('defineActor(start): start must be a function');
  return Object.freeze({ [ACTOR_BRAND]: true as const, start });
}

export function isActorDefinition(x: unknown): x is ActorDefinition {
  return (
    typeof x === 'object' &&
    x !== null &&
    (x as Record<symbol, unknown>)[ACTOR_BRAND] === true &&
    typeof (x as ActorDefinition).start === 'function'
  );
}

export type ArgsOf<D> = D extends ActorDefinition<infer A, any> ? A : never;
export type ApiOf<D> = D extends ActorDefinition<any, infer P> ? P : never;

/**
 * A capability handed to an actor at spawn. It names a slot in the actor's own
 * capability table, which the runtime checks on use: copying it to another actor
 * gives that actor nothing.
 */
export interface CapabilityRef {
  readonly slot: number;
  readonly service: string;
  readonly right: 'export' | 'connect';
}

/** A monitor on one actor; `down` resolves exactly once (unless demonitored first). */
export interface Monitor {
  readonly ref: MonitorRef;
  readonly target: ActorId | string;
  readonly down: Promise<Down>;
}

export interface LookupOptions {
  /** Wait this long for the service to be exported (default: fail at once if it is not). */
  readonly timeoutMs?: number;
}

export interface ConnectOptions extends LookupOptions {
  /** 'port' (default) or 'shm': shared-memory rings for the messages whose arguments fit them. */
  readonly transport?: Transport;
  /** Slots per ring on the shm transport (a power of two; the server's policy decides the default and the most). */
  readonly capacity?: number;
}

/** How a typed service is offered. */
export interface ServeOptions {
  /** What shared-memory bindings to this service may cost: ring slots by default and at most. */
  readonly ring?: RingPolicy;
}

/** Called for each client that binds to an exported service. Throw a FishnetError to refuse it. */
export type OnConnect = (binding: Binding) => unknown;

export interface ActorContext<Args = unknown> {
  readonly self: ActorId;
  readonly name: string;
  readonly args: Args;
  /** Capabilities handed at spawn, by the names the spawner gave them. */
  readonly caps: Readonly<Record<string, CapabilityRef>>;

  /** Watch an actor (by id or name). Its DOWN arrives once; at once with reason noproc if it is dead. */
  monitor(target: ActorId | string): Promise<Monitor>;
  /** Cancel a monitor; no DOWN arrives for it afterwards. */
  demonitor(ref: MonitorRef): void;
  /** Every DOWN this actor receives, whichever monitor it belongs to. */
  onDown(fn: (d: Down) => void): () => void;

  /** Offer a service. A privileged service is exported under its capability. */
  export(service: string | CapabilityRef, onConnect: OnConnect): Promise<void>;
  unexport(service: string | CapabilityRef): Promise<void>;
  /** Bind to a service. A privileged one needs its capability. */
  lookup(service: string | CapabilityRef, opts?: LookupOptions): Promise<Binding>;

  /** Offer a service that speaks a generated interface: onConnect gets each client's server endpoint. */
  serve<S extends TypedEndpoint>(
    iface: InterfaceDescriptor<any, S>,
    service: string | CapabilityRef,
    onConnect: (server: S) => unknown,
    opts?: ServeOptions,
  ): Promise<void>;
  /** Bind to a service that speaks `iface`, on the MessagePort or the shared-memory transport. */
  connect<C extends TypedEndpoint>(
    iface: InterfaceDescriptor<C, any>,
    service: string | CapabilityRef,
    opts?: ConnectOptions,
  ): Promise<C>;
  /** The id of the live actor with this name. */
  whereis(name: string): Promise<ActorId | undefined>;

  /** Run when the actor is asked to stop in an orderly way (its supervisor, or the runtime, shuts down). */
  onShutdown(fn: () => void | Promise<void>): void;
  /** End this actor: normal exit, or an exit code. */
  exit(code?: number): never;
}
