// The management channel from the embedding program to an actor: Comlink, wrapped.
//
// Plain Comlink waits for ever when the worker behind it has died. Every call made
// through this wrapper races the actor's death (and an optional timeout), so it
// rejects with RT_ERR_ACTOR_DEAD / RT_ERR_TIMEOUT instead of hanging.

import type { MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { FishnetError } from '../protocols/errors.ts';
import { describeReason, type ExitReason } from './reasons.ts';

export type Remote<T> = Comlink.Remote<T>;

interface InFlight {
  reject(e: unknown): void;
}

export class ManagementChannel<Api> {
  private readonly remote: Comlink.Remote<Api>;
  private deadReason: ExitReason | undefined;
  /** Calls not yet answered: each rejects when the actor dies, and leaves this set when it settles. */
  private readonly calls = new Set<InFlight>();

  constructor(
    private readonly port: MessagePort,
    private readonly who: string,
  ) {
    this.remote = Comlink.wrap<Api>(port as unknown as Comlink.Endpoint);
    // Management calls answer with data: the kernel takes no port from the actor here
    // (a Comlink proxy, or anything else moved with a message), so every one is closed.
    port.addEventListener('message', (ev) => {
      for (const p of (ev as unknown as { ports: readonly MessagePort[] }).ports) p.close();
    });
  }

  /** Calls in flight (for tests that check nothing accumulates). */
  get inFlight(): number {
    return this.calls.size;
  }

  /** A Comlink remote whose calls reject when the actor dies or `timeoutMs` passes. */
  remoteWith(timeoutMs?: number): Comlink.Remote<Api> {
    return guard(this.remote, [], this, timeoutMs) as Comlink.Remote<Api>;
  }

  /** @internal */
  race<T>(p: Promise<T>, timeoutMs: number | undefined, path: readonly PropertyKey[]): Promise<T> {
    if (this.deadReason) return Promise.reject(this.deadError());
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const call: InFlight = { reject };
      const done = () => {
        this.calls.delete(call);
        if (timer) clearTimeout(timer);
      };
      this.calls.add(call);
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
        timer = setTimeout(() => {
          done();
          reject(
            new FishnetError(
              'RT_ERR_TIMEOUT',
              `${this.who}.${path.map(String).join('.')} after ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs);
      }
      p.then(
        (v) => {
          done();
          // A Comlink proxy (a function) would be a remote that no guard watches.
          if (typeof v === 'function') {
            reject(
              new FishnetError(
                'RT_ERR_BAD_MESSAGE',
                `${this.who}.${path.map(String).join('.')} answered with a proxy, not data`,
              ),
            );
          } else resolve(v);
        },
        (e) => {
          done();
          reject(fromActor(e));
        },
      );
    });
  }

  /** The actor died: reject everything in flight and everything after. */
  close(reason: ExitReason): void {
    if (this.deadReason) return;
    this.deadReason = reason;
    const e = this.deadError();
    for (const c of this.calls) c.reject(e);
    this.calls.clear();
    this.port.close();
  }

  private deadError(): FishnetError {
    return new FishnetError('RT_ERR_ACTOR_DEAD', `${this.who}: ${describeReason(this.deadReason!)}`, {
      data: this.deadReason,
    });
  }
}

// A proxy that mirrors Comlink's: property access builds a path, a call or an await
// goes to Comlink and is raced against the actor's death.
function guard(
  remote: unknown,
  path: readonly PropertyKey[],
  ch: ManagementChannel<unknown>,
  timeoutMs: number | undefined,
): unknown {
  const target = () => {};
  return new Proxy(target, {
    get(_t, prop) {
      if (prop === 'then') {
        if (path.length === 0) return undefined; // the remote itself is not a promise
        return (ok: (v: unknown) => unknown, bad: (e: unknown) => unknown) =>
          ch.race(Promise.resolve(walk(remote, path) as Promise<unknown>), timeoutMs, path).then(ok, bad);
      }
      if (typeof prop === 'symbol') return walk(remote, [...path, prop]);
      return guard(remote, [...path, prop], ch, timeoutMs);
    },
    apply(_t, _this, args) {
      const fn = walk(remote, path) as (...a: unknown[]) => Promise<unknown>;
      return ch.race(
        Promise.resolve().then(() => fn(...args)),
        timeoutMs,
        path,
      );
    },
  });
}

function walk(remote: unknown, path: readonly PropertyKey[]): unknown {
  let r = remote as Record<PropertyKey, unknown>;
  for (const p of path) r = r[p] as Record<PropertyKey, unknown>;
  return r;
}

/** How a FishnetError thrown by an actor's API travels: a plain object Comlink passes through as it is. */
const MARK = '__fishnetError';

/** A rejection from the actor's side: a FishnetError again if it was one. */
function fromActor(e: unknown): unknown {
  if (typeof e === 'object' && e !== null && MARK in e) {
    return (
      FishnetError.fromWire((e as Record<string, unknown>)[MARK]) ??
      new FishnetError('RT_ERR_BAD_MESSAGE', 'a management call failed with an error that does not decode')
    );
  }
  return e;
}

let carrying = false;

/**
 * In an actor's thread: make the Comlink bundled with fishnet's worker host send a
 * thrown FishnetError as its registry code (a marked plain object), so that management
 * calls reject with the same typed errors as bindings do. That Comlink copy is
 * fishnet's own (actor code that imports comlink gets another instance), and the
 * embedding program's Comlink is never touched: the main thread decodes the mark in
 * the guard above.
 */
export function carryFishnetErrors(): void {
  if (carrying) return;
  carrying = true;
  const original = Comlink.transferHandlers.get('throw')!;
  Comlink.transferHandlers.set('throw', {
    canHandle: (v): v is unknown => original.canHandle(v),
    serialize(v) {
      const error = (v as { value: unknown }).value;
      if (error instanceof FishnetError) return [{ isError: false, value: { [MARK]: error.toWire() } }, []];
      return original.serialize(v);
    },
    deserialize: (s) => original.deserialize(s),
  });
}
