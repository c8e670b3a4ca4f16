// The management channel from the embedding program to an actor: Comlink, wrapped.
//
// Plain Comlink waits for ever when the worker behind it has died. Every call made
// through this wrapper races the actor's death (and an optional timeout), so it
// rejects with RT_ERR_ACTOR_DEAD / RT_ERR_TIMEOUT instead of hanging.

import type { MessagePort } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { FishnetError, type WireError } from '../protocols/errors.ts';
import { describeReason, type ExitReason } from './reasons.ts';

export type Remote<T> = Comlink.Remote<T>;

export class ManagementChannel<Api> {
  private readonly remote: Comlink.Remote<Api>;
  private deadReason: ExitReason | undefined;
  private readonly died: Promise<never>;
  private kill!: (e: FishnetError) => void;

  constructor(
    private readonly port: MessagePort,
    private readonly who: string,
  ) {
    carryFishnetErrors();
    this.remote = Comlink.wrap<Api>(port as unknown as Comlink.Endpoint);
    this.died = new Promise<never>((_, reject) => {
      this.kill = reject;
    });
    this.died.catch(() => {}); // observed through the races below
  }

  /** A Comlink remote whose calls reject when the actor dies or `timeoutMs` passes. */
  remoteWith(timeoutMs?: number): Comlink.Remote<Api> {
    return guard(this.remote, [], this, timeoutMs) as Comlink.Remote<Api>;
  }

  /** @internal */
  race<T>(p: Promise<T>, timeoutMs: number | undefined, path: readonly PropertyKey[]): Promise<T> {
    if (this.deadReason) return Promise.reject(this.deadError());
    const contenders: Promise<T>[] = [p, this.died];
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (timeoutMs !== undefined) {
      contenders.push(
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new FishnetError(
                  'RT_ERR_TIMEOUT',
                  `${this.who}.${path.map(String).join('.')} after ${timeoutMs} ms`,
                ),
              ),
            timeoutMs,
          );
        }),
      );
    }
    return Promise.race(contenders).finally(() => timer && clearTimeout(timer));
  }

  /** The actor died: reject everything in flight and everything after. */
  close(reason: ExitReason): void {
    if (this.deadReason) return;
    this.deadReason = reason;
    this.kill(this.deadError());
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

let carrying = false;

/**
 * Comlink sends a thrown error as its name, message and stack. Install (once per
 * thread) a 'throw' handler that sends a FishnetError as its registry code, so that
 * management calls reject with the same typed errors as bindings do.
 */
export function carryFishnetErrors(): void {
  if (carrying) return;
  carrying = true;
  const original = Comlink.transferHandlers.get('throw')!;
  Comlink.transferHandlers.set('throw', {
    canHandle: (v): v is unknown => original.canHandle(v),
    serialize(v) {
      const error = (v as { value: unknown }).value;
      if (error instanceof FishnetError) return [{ fishnet: error.toWire() }, []];
      return original.serialize(v);
    },
    deserialize(s) {
      const wire = (s as { fishnet?: WireError } | null)?.fishnet;
      if (wire) throw FishnetError.fromWire(wire);
      return original.deserialize(s);
    },
  });
}
