// Every option of every entry point is checked before anything is done: a bad one
// is RT_ERR_BAD_SPEC (or a TypeError where Node would throw one) naming the option
// and showing the value. Table-driven: wrong types, NaN, negative, infinite, out of range.
import test from 'ava';
import { type ActorRef, type ApiOf, FishnetError, Runtime } from '../../runtime/index.ts';
import type WatcherActor from '../fixtures/actors/watcher.ts';
import { stream } from '../fixtures/protocols/generated/stream.ts';
import { activeHandles, fixture, withRuntime } from '../helpers/runtime.ts';

const behave = fixture('behave');

/** How a bad call failed: its registry name (or TypeError) and message. */
async function failure(f: () => unknown): Promise<{ kind: string; message: string }> {
  try {
    await f();
  } catch (e) {
    return { kind: e instanceof FishnetError ? e.errName : (e as Error).name, message: (e as Error).message };
  }
  return { kind: 'no error', message: '' };
}

/** Threads and ports alive in this process (the bundler's own process aside). */
function threadHandles(): Record<string, number> {
  const { ProcessWrap: _p, PipeWrap: _q, ...rest } = activeHandles();
  return rest;
}

type Case = [what: string, call: (rt: Runtime) => unknown, message: RegExp];

const spawnCases: Case[] = [
  [
    'module: a number',
    (rt) => rt.spawn({ module: 5 as never }),
    /`module` must be a path or a file: URL, not 5/,
  ],
  ['module: empty', (rt) => rt.spawn({ module: '' }), /`module` must be a path/],
  [
    'name: empty',
    (rt) => rt.spawn({ module: behave, name: '' }),
    /`name` must be a non-empty string, not ""/,
  ],
  ['name: a number', (rt) => rt.spawn({ module: behave, name: 7 as never }), /`name` .* not 7/],
  [
    'restart: unknown',
    (rt) => rt.spawn({ module: behave, restart: 'always' as never }),
    /`restart` .* not "always"/,
  ],
  ['shutdown: NaN', (rt) => rt.spawn({ module: behave, shutdown: Number.NaN }), /`shutdown` .* not NaN/],
  ['shutdown: negative', (rt) => rt.spawn({ module: behave, shutdown: -1 }), /`shutdown` .* not -1/],
  [
    'shutdown: infinite',
    (rt) => rt.spawn({ module: behave, shutdown: Infinity }),
    /`shutdown` .* not Infinity/,
  ],
  [
    'shutdown: a string',
    (rt) => rt.spawn({ module: behave, shutdown: '100' as never }),
    /`shutdown` .* not "100"/,
  ],
  [
    'limits: not an object',
    (rt) => rt.spawn({ module: behave, limits: 5 as never }),
    /`limits` must be an object/,
  ],
  [
    'limits: unknown key',
    (rt) => rt.spawn({ module: behave, limits: { heap: 5 } as never }),
    /unknown resource limit `heap`/,
  ],
  [
    'limits: NaN',
    (rt) => rt.spawn({ module: behave, limits: { stackSizeMb: Number.NaN } }),
    /`stackSizeMb` .* not NaN/,
  ],
  [
    'limits: infinite',
    (rt) => rt.spawn({ module: behave, limits: { stackSizeMb: Infinity } }),
    /not Infinity/,
  ],
  [
    'watchdog: NaN',
    (rt) => rt.spawn({ module: behave, watchdog: { intervalMs: Number.NaN, timeoutMs: 5 } }),
    /watchdog\.intervalMs.* not NaN/,
  ],
  [
    'watchdog: a string',
    (rt) => rt.spawn({ module: behave, watchdog: { intervalMs: 5, timeoutMs: '5' as never } }),
    /watchdog\.timeoutMs.* not "5"/,
  ],
  [
    'watchdog: infinite',
    (rt) => rt.spawn({ module: behave, watchdog: { intervalMs: Infinity, timeoutMs: 5 } }),
    /not Infinity/,
  ],
  [
    'caps: not an object',
    (rt) => rt.spawn({ module: behave, caps: 'x' as never }),
    /`caps` must be an object/,
  ],
  [
    'caps: not a grant',
    (rt) => rt.spawn({ module: behave, caps: { x: {} as never } }),
    /caps\.x is not a grant/,
  ],
  [
    'args: a function',
    (rt) => rt.spawn({ module: behave, args: { f: () => 1 } as never }),
    /`args` cannot be sent to a thread/,
  ],
  [
    'args: a port not transferred',
    (rt) => rt.spawn({ module: behave, args: { p: new MessageChannel().port1 } as never }),
    /`args` cannot be sent/,
  ],
  ['an unknown field', (rt) => rt.spawn({ module: behave, timeout: 5 } as never), /unknown field `timeout`/],
  ['not an object', (rt) => rt.spawn(null as never), /a spec must be an object/],
];

const superviseCases: Case[] = [
  ['strategy: unknown', (rt) => rt.supervise({ strategy: 'all' as never }), /`strategy` .* not "all"/],
  ['intensity: NaN', (rt) => rt.supervise({ intensity: Number.NaN }), /`intensity` .* not NaN/],
  ['intensity: negative', (rt) => rt.supervise({ intensity: -1 }), /`intensity` .* not -1/],
  ['intensity: a fraction', (rt) => rt.supervise({ intensity: 1.5 }), /`intensity` .* not 1\.5/],
  ['intensity: infinite', (rt) => rt.supervise({ intensity: Infinity }), /`intensity` .* not Infinity/],
  ['periodMs: zero', (rt) => rt.supervise({ periodMs: 0 }), /`periodMs` .* not 0/],
  ['periodMs: a string', (rt) => rt.supervise({ periodMs: '5' as never }), /`periodMs` .* not "5"/],
  ['children: not an array', (rt) => rt.supervise({ children: {} as never }), /`children` must be an array/],
  [
    'a child without an id',
    (rt) => rt.supervise({ children: [{ module: behave } as never] }),
    /non-empty string `id`/,
  ],
  [
    'a child with a bad spec',
    (rt) => rt.supervise({ children: [{ id: 'a', module: behave, shutdown: -5 }] }),
    /children\[0\] \(a\).*`shutdown`/,
  ],
];

const bindingCases: Case[] = [
  [
    'lookup: timeoutMs NaN',
    (rt) => rt.lookup('x', { timeoutMs: Number.NaN }),
    /lookup: timeoutMs must be .* not NaN/,
  ],
  [
    'lookup: timeoutMs a string',
    (rt) => rt.lookup('x', { timeoutMs: '100' as never }),
    /lookup: timeoutMs .* not "100"/,
  ],
  ['lookup: timeoutMs negative', (rt) => rt.lookup('x', { timeoutMs: -1 }), /lookup: timeoutMs .* not -1/],
  ['lookup: unknown option', (rt) => rt.lookup('x', { timeout: 5 } as never), /unknown option 'timeout'/],
  [
    'lookup: options not an object',
    (rt) => rt.lookup('x', 5 as never),
    /lookup options must be an object, not 5/,
  ],
  [
    'connect: timeoutMs NaN',
    (rt) => rt.connect(stream, 'x', { timeoutMs: Number.NaN }),
    /connect: timeoutMs .* not NaN/,
  ],
  [
    'connect: transport',
    (rt) => rt.connect(stream, 'x', { transport: 'udp' as never }),
    /transport must be 'port' or 'shm', not "udp"/,
  ],
  [
    'connect: capacity NaN',
    (rt) => rt.connect(stream, 'x', { capacity: Number.NaN }),
    /capacity must be a power of two .* not NaN/,
  ],
  [
    'connect: capacity not a power of two',
    (rt) => rt.connect(stream, 'x', { capacity: 1000 }),
    /capacity .* not 1000/,
  ],
  [
    'connect: capacity infinite',
    (rt) => rt.connect(stream, 'x', { capacity: Infinity }),
    /capacity .* not Infinity/,
  ],
  ['connect: not a descriptor', (rt) => rt.connect({} as never, 'x'), /not an interface descriptor/],
  [
    'serve: ring policy',
    (rt) => rt.serve(stream, 'y', () => {}, { ring: { capacity: -2 } }),
    /ring\.capacity .* not -2/,
  ],
  [
    'serve: onConnect',
    (rt) => rt.serve(stream, 'y', 5 as never),
    /serve: onConnect must be a function, not 5/,
  ],
  [
    'export: name',
    (rt) => rt.export('' as never, () => {}),
    /export: the service name must be a non-empty string/,
  ],
  [
    'monitor: target',
    (rt) => rt.monitor({} as never),
    /monitor an actor by its id, name or ActorRef, not an object/,
  ],
  ['monitor: target NaN', (rt) => rt.monitor(Number.NaN), /not NaN/],
  ['monitor: onDown', (rt) => rt.monitor('x', 5 as never), /onDown must be a function/],
  ['demonitor: ref', (rt) => rt.demonitor('x' as never), /demonitor: a monitor ref, not "x"/],
  ['whereis: not a name', (rt) => rt.whereis({} as never), /whereis: a name or an id, not an object/],
  ['privileged: name', (rt) => rt.privileged(5 as never), /privileged: the service name .* not 5/],
];

for (const [group, cases] of [
  ['spawn', spawnCases],
  ['supervise', superviseCases],
  ['bindings, monitors, names', bindingCases],
] as const) {
  test.serial(`${group}: every bad option is refused, named, before anything starts`, async (t) => {
    const before = threadHandles();
    const rt = new Runtime({ prestart: 0 });
    const events: string[] = [];
    rt.on('event', (e) => events.push(e.type));
    try {
      for (const [what, call, message] of cases) {
        const f = await failure(() => call(rt));
        t.true(f.kind === 'RT_ERR_BAD_SPEC' || f.kind === 'TypeError', `${what}: ${f.kind} ${f.message}`);
        t.regex(f.message, message, what);
      }
      t.deepEqual(events, [], 'nothing started, nothing exited');
      t.deepEqual(rt.tables(), {
        actors: 0,
        reservedNames: 0,
        monitors: 0,
        monitorIndex: 0,
        bindings: 0,
        hostBindings: 0,
        lookupWaiters: 0,
        processTimers: 0,
        managementCalls: 0,
      });
      t.deepEqual(threadHandles(), before, 'no thread was started');
    } finally {
      await rt.shutdown();
    }
  });
}

test('the runtime, an actor ref and a binding check their options too', (t) =>
  withRuntime(t, async (rt) => {
    for (const [opts, message] of [
      [{ prestart: -1 }, /prestart must be an integer in 0\.\.64, not -1/],
      [{ prestart: Number.NaN }, /prestart .* not NaN/],
      [{ intensity: '3' }, /intensity .* not "3"/],
      [{ periodMs: Infinity }, /periodMs must be a finite number > 0, not Infinity/],
      [{ prestart: 1, workers: 2 }, /unknown option 'workers'/],
    ] as const) {
      t.throws(() => new Runtime(opts as never), { message }, JSON.stringify(opts));
    }
    const a = await rt.spawn({ module: behave, args: { service: 'svc' } });
    t.throws(() => a.manage({ timeoutMs: Number.NaN }), { message: /manage: timeoutMs .* not NaN/ });
    t.throws(() => a.manage({ timeoutMs: -5 }), { message: /manage: timeoutMs .* not -5/ });
    t.throws(() => a.manage({ timeout: 5 } as never), { message: /unknown option 'timeout'/ });
    t.throws(() => a.stop(Number.NaN), { message: /stop: timeoutMs .* not NaN/ });
    t.throws(() => a.stop('1' as never), { message: /stop: timeoutMs .* not "1"/ });
    const b = await rt.lookup('svc');
    t.throws(() => b.call('ping', [], { timeoutMs: Number.NaN }), { message: /call: timeoutMs .* not NaN/ });
    t.throws(() => b.call('ping', [], { timeoutMs: '10' as never }), {
      message: /call: timeoutMs .* not "10"/,
    });
    t.throws(() => b.call('ping', 'x' as never), { instanceOf: TypeError });
    t.throws(() => b.handle('x', 5 as never), {
      instanceOf: TypeError,
      message: /handler must be a function/,
    });
    t.is(await b.call('ping', [], { timeoutMs: Infinity }), a.id, 'Infinity means no time-out');
    t.is(a.state, 'running', 'nothing was done to the actor');
  }));

test("inside an actor: ctx.lookup's and ctx.connect's options are checked the same way", (t) =>
  withRuntime(t, async (rt) => {
    const w = (await rt.spawn({ module: fixture('watcher') })) as ActorRef<ApiOf<typeof WatcherActor>>;
    for (const bad of [Number.NaN, -1, '100']) {
      const f = await failure(() => w.api.lookup('x', bad as never));
      t.is(f.kind, 'RT_ERR_BAD_SPEC');
      t.regex(f.message, /lookup: timeoutMs must be a number of milliseconds/);
    }
    const f = await failure(() => w.api.monitor({} as never));
    t.regex(f.message, /monitor an actor by its id or name/);
    t.is(w.state, 'running');
  }));
