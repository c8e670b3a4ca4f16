import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import * as Comlink from 'comlink';
import { FishnetError, Runtime } from '../../runtime/index.ts';
import type BehaveActor from '../fixtures/actors/behave.ts';
import type EchoActor from '../fixtures/actors/echo.ts';
import { fixture, withRuntime } from '../helpers/runtime.ts';

test('spawn a TypeScript actor, call its management API, bind to its service', (t) =>
  withRuntime(t, async (rt) => {
    const echo = await rt.spawn<typeof EchoActor>({ module: fixture('echo'), name: 'echo-1' });
    t.is(echo.name, 'echo-1');
    t.is(echo.state, 'running');
    t.true(echo.id > 0);
    t.is(await echo.api.name(), 'echo-1');
    const b = await rt.lookup('echo');
    t.deepEqual(await b.request('echo', { a: [1, 2] }), { a: [1, 2] });
    t.is(await echo.api.served(), 1);
    t.is(rt.whereis('echo-1'), echo);
    t.is(rt.whereis(echo.id), echo);
  }));

test('spawn a compiled JavaScript actor (dist/) from the compiled runtime', async (t) => {
  const dist = await import(new URL('../../dist/index.js', import.meta.url).href).catch(() => undefined);
  if (!dist) return t.fail('dist/ is missing: npm test builds it first (pretest)');
  const rt = new dist.Runtime() as Runtime;
  try {
    const a = await rt.spawn({ module: new URL('../fixtures/compiled/echo.mjs', import.meta.url) });
    t.is(await (a.api as any).kind(), 'compiled');
    const b = await rt.lookup('compiled-echo');
    t.is(await b.request('echo', 7), 7);
  } finally {
    await rt.shutdown();
  }
});

test('a module path given as .js finds its .ts source, and the other way round', (t) =>
  withRuntime(t, async (rt) => {
    const a = await rt.spawn({
      module: fixture('echo').href.replace(/\.ts$/, '.js'),
      args: { service: 'by-js' },
    });
    t.is(a.state, 'running');
  }));

async function spawnError(rt: Runtime, spec: Parameters<Runtime['spawn']>[0]): Promise<FishnetError> {
  const e = await rt.spawn(spec).then(
    () => undefined,
    (x: unknown) => x,
  );
  if (!(e instanceof FishnetError)) throw new Error(`expected a FishnetError, got ${String(e)}`);
  return e;
}

test('spawn of a module that does not exist: RT_ERR_MODULE_NOT_FOUND naming the path', (t) =>
  withRuntime(t, async (rt) => {
    const e = await spawnError(rt, { module: '/no/such/actor.ts' });
    t.is(e.errName, 'RT_ERR_MODULE_NOT_FOUND');
    t.regex(e.message, /\/no\/such\/actor\.ts/);
    t.is(rt.stats().actors, 0);
  }));

test('spawn of a module that throws while loading: RT_ERR_MODULE_LOAD with the error', (t) =>
  withRuntime(t, async (rt) => {
    const e = await spawnError(rt, { module: fixture('throws-on-load') });
    t.is(e.errName, 'RT_ERR_MODULE_LOAD');
    t.regex(e.message, /thrown while loading/);
    t.is(rt.stats().actors, 0);
  }));

test('spawn of a module with a syntax error: RT_ERR_MODULE_LOAD with file:line:column', (t) =>
  withRuntime(t, async (rt) => {
    const dir = mkdtempSync(join(tmpdir(), 'fishnet-test-'));
    try {
      const file = join(dir, 'broken.ts');
      writeFileSync(file, 'export default {\n  start(: number) {}\n};\n');
      const e = await spawnError(rt, { module: file });
      t.is(e.errName, 'RT_ERR_MODULE_LOAD');
      t.regex(e.message, /broken\.ts:2:\d+/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }));

test('spawn of a module without an actor: RT_ERR_NO_ACTOR_EXPORT, and its thread is gone', (t) =>
  withRuntime(t, async (rt) => {
    const events: string[] = [];
    rt.on('event', (e) => events.push(e.type));
    const e = await spawnError(rt, { module: fixture('no-default') });
    t.is(e.errName, 'RT_ERR_NO_ACTOR_EXPORT');
    t.regex(e.message, /no default export/);
    t.is(rt.stats().actors, 0);
    t.deepEqual(events, [], 'an actor that never started is never announced, nor its exit');
  }));

test('an actor whose start() throws: RT_ERR_START_FAILED, with the error', (t) =>
  withRuntime(t, async (rt) => {
    const e = await spawnError(rt, { module: fixture('behave'), args: { startThrows: true } });
    t.is(e.errName, 'RT_ERR_START_FAILED');
    t.regex(e.message, /TypeError: refusing to start/);
    t.is(e.data, undefined, 'not a registry error: nothing more to carry');
    t.is(rt.stats().actors, 0);
    // A registry error thrown by start() travels whole in data, its code included.
    const f = await spawnError(rt, {
      module: fixture('behave'),
      args: { startThrowsFishnet: 'DHCP_ERR_NO_SERVER' },
    });
    t.is(f.errName, 'RT_ERR_START_FAILED');
    const inner = FishnetError.fromWire(f.data);
    t.is(inner?.errName, 'DHCP_ERR_NO_SERVER');
    t.is(inner?.detail, 'as asked');
  }));

test('bad specs are refused before any thread starts, naming the field', (t) =>
  withRuntime(t, async (rt) => {
    const cases: [Parameters<Runtime['spawn']>[0], RegExp][] = [
      [{ module: '' }, /module/],
      [{ module: fixture('echo'), restart: 'sometimes' as never }, /restart/],
      [{ module: fixture('echo'), shutdown: -1 }, /shutdown/],
      [{ module: fixture('echo'), limits: { maxOldGenerationSizeMb: -5 } }, /maxOldGenerationSizeMb/],
      [{ module: fixture('echo'), limits: { heap: 5 } as never }, /unknown resource limit `heap`/],
      [{ module: fixture('echo'), watchdog: { intervalMs: 0, timeoutMs: 1 } }, /watchdog/],
      [{ module: fixture('echo'), caps: { x: { service: 'forged', right: 'connect' } as never } }, /caps\.x/],
      [{ module: new URL('http://example.invalid/a.ts') }, /file: URL/],
    ];
    for (const [spec, re] of cases) {
      const e = await spawnError(rt, spec);
      t.is(e.errName, 'RT_ERR_BAD_SPEC', String(re));
      t.regex(e.message, re);
    }
    t.is(rt.stats().actors, 0);
  }));

test('arguments that cannot be sent to a thread: RT_ERR_BAD_SPEC, nothing left running', (t) =>
  withRuntime(t, async (rt) => {
    const e = await spawnError(rt, { module: fixture('echo'), args: { f: () => 1 } as never });
    t.is(e.errName, 'RT_ERR_BAD_SPEC');
    t.regex(e.message, /cannot be sent/);
    t.is(rt.stats().actors, 0);
  }));

test('a name held by a live actor is refused; it is free again after that actor dies', (t) =>
  withRuntime(t, async (rt) => {
    const a = await rt.spawn<typeof BehaveActor>({ module: fixture('behave'), name: 'unique' });
    const e = await spawnError(rt, { module: fixture('behave'), name: 'unique' });
    t.is(e.errName, 'RT_ERR_NAME_TAKEN');
    await a.kill();
    const b = await rt.spawn({ module: fixture('behave'), name: 'unique' });
    t.not(b.id, a.id);
  }));

test('spawn after shutdown: RT_ERR_RUNTIME_STOPPED', async (t) => {
  const rt = new Runtime();
  await rt.shutdown();
  const e = await spawnError(rt, { module: fixture('echo') });
  t.is(e.errName, 'RT_ERR_RUNTIME_STOPPED');
  t.deepEqual(await rt.done, { kind: 'shutdown' });
});

test('with prestarted threads, spawns take a warm thread and the pool refills', (t) =>
  withRuntime(
    t,
    async (rt) => {
      t.is(rt.stats().idleThreads, 2);
      const a = await rt.spawn({ module: fixture('behave') });
      const b = await rt.spawn({ module: fixture('behave'), limits: { maxOldGenerationSizeMb: 64 } });
      t.is(a.state, 'running');
      t.is(b.state, 'running');
      await new Promise((r) => setImmediate(r));
      t.is(rt.stats().idleThreads, 2);
    },
    { prestart: 2 },
  ));

test('concurrent spawns of one module without names get distinct default names', (t) =>
  withRuntime(t, async (rt) => {
    const refs = await Promise.all(Array.from({ length: 6 }, () => rt.spawn({ module: fixture('behave') })));
    t.is(new Set(refs.map((r) => r.name)).size, 6);
    t.true(refs.every((r) => /^behave-\d+$/.test(r.name)));
  }));

test('spawns start independently: one waiting in start() for a service the other exports does not deadlock', (t) =>
  withRuntime(t, async (rt) => {
    // A starts first and waits (3 s at most) for 'later', which B exports. Were spawns
    // serialised, B would start only after A's lookup had timed out.
    const [a, b] = await Promise.all([
      rt.spawn({ module: fixture('behave'), args: { lookupAtStart: { service: 'later', timeoutMs: 3000 } } }),
      rt.spawn({ module: fixture('behave'), args: { service: 'later' } }),
    ]);
    t.is(a.state, 'running');
    t.is(b.state, 'running');
  }));

test('two concurrent spawns of one name: the second gets RT_ERR_NAME_TAKEN, at once', (t) =>
  withRuntime(t, async (rt) => {
    const first = rt.spawn({ module: fixture('behave'), name: 'twin' });
    const second = rt.spawn({ module: fixture('behave'), name: 'twin' });
    const e = (await second.catch((x) => x)) as FishnetError;
    t.is(e.errName, 'RT_ERR_NAME_TAKEN');
    t.is((await first).name, 'twin');
    t.is(rt.tables().reservedNames, 0);
  }));

test("a FishnetError thrown by an actor's API arrives typed, and the embedding program's Comlink is untouched", (t) =>
  withRuntime(t, async (rt) => {
    const original = Comlink.transferHandlers.get('throw');
    const a = await rt.spawn<typeof BehaveActor>({ module: fixture('behave') });
    const e = (await (a.api.refuse() as Promise<unknown>).catch((x: unknown) => x)) as FishnetError;
    t.true(e instanceof FishnetError);
    t.is(e.errName, 'PORT_ERR_IN_USE');
    t.is(e.detail, 'port 7 is taken');
    t.is(
      Comlink.transferHandlers.get('throw'),
      original,
      "Comlink's global 'throw' handler is the one it had",
    );
  }));
