// The name service: which actor exports which service, which names are privileged,
// and who is waiting for a name to appear.

import { FishnetError } from '../protocols/errors.ts';
import type { ExportInfo, InterfaceId } from './binding/offer.ts';
import { Grant, type ServiceCapability } from './capabilities.ts';
import type { ActorId } from './reasons.ts';

interface Waiter {
  /** Who waits (an actor, or HOST_ID): its waits end when it dies. */
  readonly who: ActorId;
  resolve(owner: ActorId): void;
  reject(e: FishnetError): void;
  timer?: ReturnType<typeof setTimeout>;
}

export class NameService {
  private readonly owners = new Map<string, ActorId>();
  private readonly exports = new Map<string, ExportInfo>();
  private readonly privileged = new Map<string, ServiceCapability>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private closed: FishnetError | undefined;
  private readonly perWho = new Map<ActorId, number>();

  /** Make `service` privileged and mint the grants to export and to connect to it. */
  reserve(service: string): ServiceCapability {
    if (typeof service !== 'string' || service === '')
      throw new FishnetError('RT_ERR_BAD_SPEC', 'service name');
    const existing = this.privileged.get(service);
    if (existing) return existing;
    if (this.owners.has(service)) {
      throw new FishnetError('RT_ERR_SERVICE_EXISTS', `'${service}' is already exported without privilege`);
    }
    const cap = Object.freeze({
      service,
      export: new Grant(service, 'export'),
      connect: new Grant(service, 'connect'),
    });
    this.privileged.set(service, cap);
    return cap;
  }

  isPrivileged(service: string): boolean {
    return this.privileged.has(service);
  }

  owner(service: string): ActorId | undefined {
    return this.owners.get(service);
  }

  /** The interface a service was exported with (undefined: a plain binding). */
  interfaceOf(service: string): InterfaceId | undefined {
    const e = this.exports.get(service);
    return e && { name: e.name, hash: e.hash };
  }

  /** What the exporter said of its service: its interface, slot size and ring policy. */
  exportOf(service: string): ExportInfo | undefined {
    return this.exports.get(service);
  }

  /** Lookups one actor has waiting. */
  waitingFor(who: ActorId): number {
    return this.perWho.get(who) ?? 0;
  }

  private count(who: ActorId, d: number): void {
    const n = (this.perWho.get(who) ?? 0) + d;
    if (n === 0) this.perWho.delete(who);
    else this.perWho.set(who, n);
  }

  /** Lookups still waiting for a name, all services together. */
  get waiting(): number {
    let n = 0;
    for (const set of this.waiters.values()) n += set.size;
    return n;
  }

  export(owner: ActorId, service: string, info?: ExportInfo): void {
    const current = this.owners.get(service);
    if (current !== undefined) {
      throw new FishnetError('RT_ERR_SERVICE_EXISTS', `'${service}' is exported by actor ${current}`);
    }
    this.owners.set(service, owner);
    if (info) this.exports.set(service, info);
    const ws = this.waiters.get(service);
    this.waiters.delete(service);
    for (const w of ws ?? []) {
      if (w.timer) clearTimeout(w.timer);
      this.count(w.who, -1);
      w.resolve(owner);
    }
  }

  unexport(owner: ActorId, service: string): void {
    if (this.owners.get(service) !== owner) {
      throw new FishnetError('RT_ERR_SERVICE_NOT_FOUND', `'${service}' is not exported by actor ${owner}`);
    }
    this.owners.delete(service);
    this.exports.delete(service);
  }

  /** All of an actor's exports go when it dies. */
  removeOwner(owner: ActorId, services: Iterable<string>): void {
    for (const s of services) {
      if (this.owners.get(s) !== owner) continue;
      this.owners.delete(s);
      this.exports.delete(s);
    }
  }

  /** An actor died: its waits for names end (nobody is left to bind). */
  cancelWaits(who: ActorId, error: FishnetError): void {
    for (const [service, set] of this.waiters) {
      for (const w of set) {
        if (w.who !== who) continue;
        set.delete(w);
        this.count(w.who, -1);
        if (w.timer) clearTimeout(w.timer);
        w.reject(error);
      }
      if (set.size === 0) this.waiters.delete(service);
    }
  }

  /** Wait for `service` to be exported; RT_ERR_LOOKUP_TIMEOUT after timeoutMs (Infinity: wait for ever). */
  waitFor(service: string, timeoutMs: number, who: ActorId): Promise<ActorId> {
    if (this.closed) return Promise.reject(this.closed);
    const owner = this.owners.get(service);
    if (owner !== undefined) return Promise.resolve(owner);
    return new Promise((resolve, reject) => {
      const w: Waiter = { who, resolve, reject };
      let set = this.waiters.get(service);
      if (!set) this.waiters.set(service, (set = new Set()));
      set.add(w);
      this.count(who, 1);
      if (Number.isFinite(timeoutMs)) {
        w.timer = setTimeout(() => {
          set.delete(w);
          this.count(who, -1);
          if (set.size === 0 && this.waiters.get(service) === set) this.waiters.delete(service);
          reject(new FishnetError('RT_ERR_LOOKUP_TIMEOUT', `'${service}' after ${timeoutMs} ms`));
        }, timeoutMs);
      }
    });
  }

  close(error: FishnetError): void {
    this.closed = error;
    for (const set of this.waiters.values()) {
      for (const w of set) {
        if (w.timer) clearTimeout(w.timer);
        w.reject(error);
      }
    }
    this.waiters.clear();
    this.perWho.clear();
  }
}
