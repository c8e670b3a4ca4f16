// What an actor may ask of the kernel over its control channel, and what it may tell
// it. The actor's own code can reach that channel, so every argument is checked here
// before the kernel acts on it: a bad request is refused with a registry error, a bad
// event is dropped. Nothing an actor sends can throw in the kernel.

import { FishnetError } from '../protocols/errors.ts';
import type { ConnectRequest, ExportInfo } from './binding/offer.ts';
import type { BindingBroker } from './broker.ts';
import { Transfer } from './control.ts';
import type { MonitorTable } from './monitors.ts';
import type { NameService } from './names.ts';
import { checkTimeout } from './options.ts';
import type { ActorProcess } from './process.ts';
import type { ActorId, Down, ExitReason, MonitorRef } from './reasons.ts';
import type { ProcessTable } from './table.ts';

export interface KernelParts {
  readonly table: ProcessTable;
  readonly monitors: MonitorTable;
  readonly names: NameService;
  readonly broker: BindingBroker;
  /** Set a monitor for `watcher` on `target` (DOWN noproc at once if it is dead). */
  addMonitor(watcher: ActorId, target: unknown, deliver: (d: Down) => void): MonitorRef;
}

type Key = { name?: unknown; slot?: unknown };

/**
 * What one actor may hold in the kernel's tables at once. Each is far above what a
 * program means to do; past it an actor is refused with RT_ERR_OVER_LIMIT, so that
 * it cannot grow the embedding program's memory without bound.
 */
export const ACTOR_LIMITS = {
  monitors: 10_000,
  lookupWaiters: 1_000,
  bindings: 10_000,
  exports: 1_000,
} as const;

function overLimit(what: keyof typeof ACTOR_LIMITS): never {
  throw new FishnetError('RT_ERR_OVER_LIMIT', `an actor may hold at most ${ACTOR_LIMITS[what]} ${what}`);
}

export class ActorCalls {
  constructor(private readonly k: KernelParts) {}

  request(p: ActorProcess, op: string, arg: unknown): unknown {
    const a = (typeof arg === 'object' && arg !== null ? arg : {}) as Record<string, unknown>;
    switch (op) {
      case 'monitor':
        if (this.k.monitors.heldBy(p.id) >= ACTOR_LIMITS.monitors) overLimit('monitors');
        return this.k.addMonitor(p.id, a.target, (d) => {
          if (p.state !== 'dead') p.ctl.event('down', d);
        });
      case 'export': {
        if (p.exports.size >= ACTOR_LIMITS.exports) overLimit('exports');
        const service = this.k.broker.serviceName(p, key(a), 'export');
        this.k.names.export(p.id, service, exportInfoOf(a.iface));
        p.exports.add(service);
        return service;
      }
      case 'unexport': {
        const service = this.k.broker.serviceName(p, key(a), 'export');
        this.k.names.unexport(p.id, service);
        p.exports.delete(service);
        return service;
      }
      case 'lookup': {
        const timeoutMs = checkTimeout(a.timeoutMs, 'lookup: timeoutMs');
        if (p.bindings.size >= ACTOR_LIMITS.bindings) overLimit('bindings');
        if (this.k.names.waitingFor(p.id) >= ACTOR_LIMITS.lookupWaiters) overLimit('lookupWaiters');
        return this.k.broker
          .connect(p, key(a), timeoutMs, connectRequestOf(a.req))
          .then((offer) => new Transfer(offer, [offer.port]));
      }
      case 'whereis': {
        if (typeof a.name !== 'string') throw new FishnetError('RT_ERR_BAD_SPEC', 'whereis: a name');
        return this.k.table.live(a.name)?.id;
      }
      default:
        throw new FishnetError('RT_ERR_NO_HANDLER', `control op '${op}'`);
    }
  }

  event(p: ActorProcess, op: string, arg: unknown): void {
    const a = (typeof arg === 'object' && arg !== null ? arg : {}) as Record<string, unknown>;
    switch (op) {
      case 'ready':
        p.started();
        return;
      case 'failed':
        p.failedToStart(a.error, errorReasonOf(a.reason));
        return;
      case 'pong':
        p.pong();
        return;
      case 'demonitor':
        this.k.monitors.removeHeldBy(p.id, a.ref);
        return;
      case 'unbind':
        this.k.broker.release(p, a.bindingId);
        return;
    }
  }
}

function key(a: Record<string, unknown>): Key {
  return { name: a.name, slot: a.slot };
}

/** An exporter's description of its interface, as its thread sent it. */
function exportInfoOf(x: unknown): ExportInfo | undefined {
  if (x === undefined) return undefined;
  const i = x as Partial<ExportInfo> | null;
  const pow2 = (n: unknown, max: number) =>
    typeof n === 'number' && Number.isInteger(n) && n >= 2 && n <= max && (n & (n - 1)) === 0;
  if (
    typeof i !== 'object' ||
    i === null ||
    typeof i.name !== 'string' ||
    typeof i.hash !== 'string' ||
    !(
      typeof i.slotWords === 'number' &&
      Number.isInteger(i.slotWords) &&
      i.slotWords >= 0 &&
      i.slotWords <= 4096
    ) ||
    typeof i.ring !== 'object' ||
    i.ring === null ||
    !pow2(i.ring.maxCapacity, 1 << 20) ||
    !pow2(i.ring.capacity, i.ring.maxCapacity as number)
  ) {
    throw new FishnetError(
      'RT_ERR_BAD_SPEC',
      'export: not an interface description from a generated descriptor',
    );
  }
  return {
    name: i.name,
    hash: i.hash,
    slotWords: i.slotWords,
    ring: { capacity: i.ring.capacity as number, maxCapacity: i.ring.maxCapacity as number },
  };
}

/** A client's connect request, as its thread sent it: only the fields the kernel reads. */
function connectRequestOf(x: unknown): ConnectRequest {
  if (x === undefined) return {};
  if (typeof x !== 'object' || x === null) throw new FishnetError('RT_ERR_BAD_SPEC', 'lookup: a bad request');
  const r = x as Record<string, unknown>;
  const iface = r.iface as Record<string, unknown> | undefined;
  if (
    iface !== undefined &&
    (typeof iface !== 'object' ||
      iface === null ||
      typeof iface.name !== 'string' ||
      typeof iface.hash !== 'string')
  ) {
    throw new FishnetError('RT_ERR_BAD_SPEC', 'lookup: a bad interface id');
  }
  return {
    iface: iface && { name: iface.name as string, hash: iface.hash as string },
    transport: r.transport as ConnectRequest['transport'],
    capacity: r.capacity as number | undefined,
  };
}

/** Why an actor says it failed to start: only an error reason, with strings, is believed. */
function errorReasonOf(x: unknown): ExitReason | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const r = x as Record<string, unknown>;
  if (r.kind !== 'error' || typeof r.name !== 'string' || typeof r.message !== 'string') return undefined;
  return {
    kind: 'error',
    name: r.name,
    message: r.message,
    stack: typeof r.stack === 'string' ? r.stack : undefined,
  };
}
