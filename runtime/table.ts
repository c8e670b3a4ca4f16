// The kernel's table of actors: by id, by name, names reserved by spawns still in
// flight, and the names of the recently dead (so that a late DOWN noproc can name its
// target).

import { FishnetError } from '../protocols/errors.ts';
import type { ActorProcess } from './process.ts';
import type { ActorId } from './reasons.ts';

const TOMBSTONES = 1024;

/** Where a spec carries the reservation of its name (object spread keeps it through the supervisor). */
export const RESERVATION = Symbol('fishnet.reservation');
export interface Reserved {
  readonly [RESERVATION]?: symbol;
}

export class ProcessTable {
  private readonly byId = new Map<ActorId, ActorProcess>();
  private readonly byName = new Map<string, ActorProcess>();
  /** Names taken by spawns that have not finished (name → the spawn's token): a second spawn of one name fails at once. */
  private readonly reserved = new Map<string, symbol>();
  private readonly tombstones = new Map<ActorId, string>();
  private nextId = 1;

  get size(): number {
    return this.byId.size;
  }

  get reservations(): number {
    return this.reserved.size;
  }

  newId(): ActorId {
    return this.nextId++ as ActorId;
  }

  /** Take a name for a spawn in flight; RT_ERR_NAME_TAKEN if a live actor or another spawn has it. */
  reserve(name: string): symbol {
    if (this.reserved.has(name) || this.liveByName(name)) {
      throw new FishnetError('RT_ERR_NAME_TAKEN', `'${name}'`);
    }
    const token = Symbol(name);
    this.reserved.set(name, token);
    return token;
  }

  /** The spawn holding `token` goes on with its name; any other start must reserve it first. */
  claim(name: string, token: symbol | undefined): symbol {
    if (token !== undefined && this.reserved.get(name) === token) return token;
    return this.reserve(name);
  }

  /** Give a reservation back (a no-op once the actor is in the table, or if another spawn holds it). */
  unreserve(name: string, token: symbol): void {
    if (this.reserved.get(name) === token) this.reserved.delete(name);
  }

  add(p: ActorProcess): void {
    this.byId.set(p.id, p);
    this.byName.set(p.name, p);
    this.reserved.delete(p.name);
  }

  remove(p: ActorProcess): void {
    this.byId.delete(p.id);
    if (this.byName.get(p.name) === p) this.byName.delete(p.name);
    this.tombstones.set(p.id, p.name);
    if (this.tombstones.size > TOMBSTONES) this.tombstones.delete(this.tombstones.keys().next().value!);
  }

  get(id: ActorId): ActorProcess | undefined {
    return this.byId.get(id);
  }

  /** A live actor by id or name. */
  live(target: ActorId | string): ActorProcess | undefined {
    const p = typeof target === 'string' ? this.byName.get(target) : this.byId.get(target);
    return p && p.state !== 'dead' ? p : undefined;
  }

  liveByName(name: string): ActorProcess | undefined {
    return this.live(name);
  }

  /** The name of a dead actor, if it died recently. */
  tombstone(id: ActorId): string | undefined {
    return this.tombstones.get(id);
  }

  all(): ActorProcess[] {
    return [...this.byId.values()];
  }
}
