// Shared by the runtime tests: fixture paths, a runtime that is always shut down,
// and a check that nothing of the runtime's is left running.
import type { ExecutionContext } from 'ava';
import { FishnetError, Runtime, type RuntimeOptions } from '../../runtime/index.ts';

export function fixture(name: string): URL {
  return new URL(`../fixtures/actors/${name}.ts`, import.meta.url);
}

/** Run `fn` with a fresh runtime, and shut it down however `fn` ends. */
export async function withRuntime<T>(
  t: ExecutionContext,
  fn: (rt: Runtime) => Promise<T>,
  opts: RuntimeOptions = {},
): Promise<T> {
  const rt = new Runtime(opts);
  try {
    return await fn(rt);
  } finally {
    await rt.shutdown();
    t.deepEqual(
      rt.stats(),
      { actors: 0, monitors: 0, bindings: 0, idleThreads: 0 },
      'kernel tables empty after shutdown',
    );
  }
}

/** Handles that keep the process alive, by kind (MessagePort counts workers and ports). */
export function activeHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

/**
 * Wait until the active handles are `before` again (or 5 s pass) and return them. A
 * closed port or finished thread leaves the list only once libuv has run its close
 * callback, which under load can be several loop turns after the close resolved; a real
 * leak never comes back.
 */
export async function handlesAfter(before: Record<string, number>): Promise<Record<string, number>> {
  const same = (a: Record<string, number>) =>
    Object.keys({ ...a, ...before }).every((k) => a[k] === before[k]);
  await eventually(() => same(activeHandles()), 5000);
  return activeHandles();
}

/** Wait until `check` holds, polling; for events that arrive asynchronously. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 5000,
): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return check();
}

/**
 * Tell an actor to do something that ends it. Its reply may or may not leave before
 * it dies; either is right, so only RT_ERR_ACTOR_DEAD is tolerated here.
 */
export async function fatal(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (e) {
    if (!(e instanceof FishnetError && e.is('RT_ERR_ACTOR_DEAD'))) throw e;
  }
}
