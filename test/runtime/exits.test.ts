// Every way an actor can end, and the exit reason that tells them apart.
import test from 'ava';
import { type ExitReason, FishnetError } from '../../runtime/index.ts';
import type BehaveActor from '../fixtures/actors/behave.ts';
import { fatal, fixture, withRuntime } from '../helpers/runtime.ts';

const behave = fixture('behave');

test('ctx.exit() is a normal exit', (t) =>
  withRuntime(t, async (rt) => {
    const a = await rt.spawn<typeof BehaveActor>({ module: behave });
    await fatal(a.api.exit());
    t.deepEqual(await a.exited, { kind: 'normal' });
    t.is(a.state, 'dead');
  }));

test('ctx.exit(code) and process.exit(code) give the exit code', (t) =>
  withRuntime(t, async (rt) => {
    const a = await rt.spawn<typeof BehaveActor>({ module: behave });
    const b = await rt.spawn<typeof BehaveActor>({ module: behave });
    await fatal(a.api.exit(3));
    await fatal(b.api.processExit(42));
    t.deepEqual(await a.exited, { kind: 'exit', code: 3 });
    t.deepEqual(await b.exited, { kind: 'exit', code: 42 });
  }));

test('an uncaught exception: reason error with name, message and stack', (t) =>
  withRuntime(t, async (rt) => {
    const a = await rt.spawn<typeof BehaveActor>({ module: behave });
    await fatal(a.api.crash());
    const r = (await a.exited) as Extract<ExitReason, { kind: 'error' }>;
    t.is(r.kind, 'error');
    t.is(r.name, 'RangeError');
    t.is(r.message, 'asked to crash');
    t.regex(r.stack ?? '', /RangeError: asked to crash/);
  }));

test('an unhandled rejection: reason error', (t) =>
  withRuntime(t, async (rt) => {
    const a = await rt.spawn<typeof BehaveActor>({ module: behave });
    await fatal(a.api.reject());
    const r = await a.exited;
    t.is(r.kind, 'error');
    t.regex((r as { message: string }).message, /unhandled rejection/);
  }));

test('kill(): reason killed; killing a dead actor returns its old reason', (t) =>
  withRuntime(t, async (rt) => {
    const a = await rt.spawn<typeof BehaveActor>({ module: behave });
    t.deepEqual(await a.kill(), { kind: 'killed', cause: 'kill' });
    t.deepEqual(await a.kill(), { kind: 'killed', cause: 'kill' });
    const b = await rt.spawn<typeof BehaveActor>({ module: behave });
    await fatal(b.api.exit());
    await b.exited;
    t.deepEqual(await b.kill(), { kind: 'normal' }, 'kill after a normal exit does not rewrite the reason');
  }));

test('kill() ends an actor stuck in an endless loop', (t) =>
  withRuntime(t, async (rt) => {
    const a = await rt.spawn<typeof BehaveActor>({ module: behave });
    await fatal(a.api.spin());
    await new Promise((r) => setTimeout(r, 50));
    t.deepEqual(await a.kill(), { kind: 'killed', cause: 'kill' });
  }));

test('running out of its heap limit: reason oom', (t) =>
  withRuntime(t, async (rt) => {
    const a = await rt.spawn<typeof BehaveActor>({ module: behave, limits: { maxOldGenerationSizeMb: 24 } });
    await fatal(a.api.oom());
    const r = await a.exited;
    t.is(r.kind, 'oom');
    t.regex((r as { message: string }).message, /memory/);
  }));

test('the watchdog kills an actor whose event loop is blocked', (t) =>
  withRuntime(t, async (rt) => {
    const a = await rt.spawn<typeof BehaveActor>({
      module: behave,
      // A second without a pong: a loaded machine may hold a responsive thread back a few hundred ms.
      watchdog: { intervalMs: 100, timeoutMs: 1000 },
    });
    await new Promise((r) => setTimeout(r, 1300));
    t.is(a.state, 'running', 'a responsive actor is left alone');
    await fatal(a.api.spin());
    t.deepEqual(await a.exited, { kind: 'killed', cause: 'watchdog' });
  }));

test('stop(): shutdown hooks run, reason shutdown', (t) =>
  withRuntime(t, async (rt) => {
    const log = new SharedArrayBuffer(256);
    const a = await rt.spawn<typeof BehaveActor>({
      module: behave,
      name: 'stopper',
      args: { log, shutdownMs: 20 },
    });
    t.deepEqual(await a.stop(), { kind: 'shutdown' });
    const { readLog } = await import('../fixtures/actors/behave.ts');
    t.deepEqual(readLog(log), ['stopper']);
  }));

test('stop() of an actor that blocks in its shutdown hook: killed after the timeout', (t) =>
  withRuntime(t, async (rt) => {
    const a = await rt.spawn<typeof BehaveActor>({ module: behave, args: { shutdownMs: 'forever' } });
    const t0 = performance.now();
    t.deepEqual(await a.stop(100), { kind: 'killed', cause: 'shutdown-timeout' });
    t.true(performance.now() - t0 >= 90);
  }));

test('management calls reject with RT_ERR_ACTOR_DEAD when the actor dies mid-call, and after', (t) =>
  withRuntime(t, async (rt) => {
    const a = await rt.spawn<typeof BehaveActor>({ module: behave });
    const pending = a.api.hang();
    await a.kill();
    const e1 = await t.throwsAsync(pending);
    t.true(e1 instanceof FishnetError);
    t.is((e1 as FishnetError).errName, 'RT_ERR_ACTOR_DEAD');
    t.deepEqual((e1 as FishnetError).data, { kind: 'killed', cause: 'kill' });
    const e2 = await t.throwsAsync(a.api.self());
    t.is((e2 as FishnetError).errName, 'RT_ERR_ACTOR_DEAD');
  }));

test('management calls with a timeout reject with RT_ERR_TIMEOUT', (t) =>
  withRuntime(t, async (rt) => {
    const a = await rt.spawn<typeof BehaveActor>({ module: behave });
    const e = await t.throwsAsync(a.manage({ timeoutMs: 50 }).hang());
    t.is((e as FishnetError).errName, 'RT_ERR_TIMEOUT');
    t.is(await a.manage({ timeoutMs: 1000 }).slow(5), 5);
    t.is(await a.api.self(), a.id);
  }));
