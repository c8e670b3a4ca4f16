// fishnet's actor runtime: spawn, supervise, monitor, name services, bind.

export { Err, type ErrCode, type ErrName, errorName, FishnetError, isFailure } from '../protocols/errors.ts';
export {
  type ActorContext,
  type ActorDefinition,
  type ApiOf,
  type ArgsOf,
  type CapabilityRef,
  defineActor,
  type LookupOptions,
  type Monitor,
  type OnConnect,
  type ServeOptions,
} from './actor.ts';
export { Binding, type BindingId, type DisconnectReason, type PeerInfo } from './binding/binding.ts';
export type { Grant, ServiceCapability } from './capabilities.ts';
export type { Remote } from './management.ts';
export {
  type ActorId,
  type Down,
  describeReason,
  type ExitReason,
  HOST_ID,
  isAbnormal,
  type MonitorRef,
} from './reasons.ts';
export { ActorRef, SupervisorRef } from './refs.ts';
export { Runtime, type RuntimeOptions } from './runtime.ts';
export type {
  ActorSpec,
  ChildSpec,
  ResourceLimits,
  RestartType,
  ShutdownPolicy,
  Strategy,
  SupervisorChildSpec,
  SupervisorSpec,
  WatchdogSpec,
} from './spec.ts';
export type { ChildInfo, RuntimeEvent } from './supervisor.ts';
