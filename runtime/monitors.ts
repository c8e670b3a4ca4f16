// Who watches whom. Each monitor yields exactly one DOWN: when its target dies, or
// at once (noproc) when the target was dead already. A monitor ends with its DOWN,
// with demonitor, or with the death of its watcher.

import type { ActorId, Down, ExitReason, MonitorRef } from './reasons.ts';

interface Entry {
  readonly ref: MonitorRef;
  readonly watcher: ActorId;
  readonly target: ActorId;
  readonly deliver: (d: Down) => void;
}

export class MonitorTable {
  private nextRef = 1;
  private readonly byRef = new Map<MonitorRef, Entry>();
  private readonly byTarget = new Map<ActorId, Set<MonitorRef>>();
  private readonly byWatcher = new Map<ActorId, Set<MonitorRef>>();

  get size(): number {
    return this.byRef.size;
  }

  newRef(): MonitorRef {
    return this.nextRef++ as MonitorRef;
  }

  add(ref: MonitorRef, watcher: ActorId, target: ActorId, deliver: (d: Down) => void): void {
    this.byRef.set(ref, { ref, watcher, target, deliver });
    setOf(this.byTarget, target).add(ref);
    setOf(this.byWatcher, watcher).add(ref);
  }

  remove(ref: MonitorRef): void {
    const e = this.byRef.get(ref);
    if (!e) return;
    this.byRef.delete(ref);
    unlink(this.byTarget, e.target, ref);
    unlink(this.byWatcher, e.watcher, ref);
  }

  /** demonitor from a watcher: only a monitor it holds (a ref is a number anyone can guess). */
  removeHeldBy(watcher: ActorId, ref: unknown): void {
    if (typeof ref !== 'number') return;
    if (this.byRef.get(ref as MonitorRef)?.watcher === watcher) this.remove(ref as MonitorRef);
  }

  /** Monitors a watcher holds. */
  heldBy(watcher: ActorId): number {
    return this.byWatcher.get(watcher)?.size ?? 0;
  }

  /** Entries in the indexes, for tests that check nothing accumulates. */
  get indexSize(): number {
    return this.byTarget.size + this.byWatcher.size;
  }

  /** The target died: one DOWN per monitor on it, and those monitors end. */
  targetDied(id: ActorId, name: string, reason: ExitReason): void {
    const refs = this.byTarget.get(id);
    this.byTarget.delete(id);
    for (const ref of refs ?? []) {
      const e = this.byRef.get(ref);
      if (!e) continue;
      this.remove(ref);
      e.deliver({ ref, id, name, reason });
    }
  }

  /** The watcher died: its monitors end without DOWN. */
  watcherDied(id: ActorId): void {
    for (const ref of this.byWatcher.get(id) ?? []) this.remove(ref);
    this.byWatcher.delete(id);
  }
}

function unlink<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}

function setOf<K, V>(m: Map<K, Set<V>>, k: K): Set<V> {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  return s;
}
