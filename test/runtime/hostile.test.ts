// Every peer is hostile: whatever an actor posts on its own end of a binding, the
// other side (an actor, or the embedding program itself) drops and counts what is
// not a well-formed frame, closes any port it carried, and keeps serving good clients.
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import type { ActorRef, ApiOf, Binding, Runtime } from '../../runtime/index.ts';
import type HostileActor from '../fixtures/actors/hostile.ts';
import type { Shot } from '../fixtures/actors/hostile.ts';
import { type StreamClient, type StreamServer, stream } from '../fixtures/protocols/generated/stream.ts';
import { eventually, fixture, withRuntime } from '../helpers/runtime.ts';

type Hostile = ActorRef<ApiOf<typeof HostileActor>>;
const RUNS = { numRuns: 10, seed: 7 };

// Frames one field off from valid, for the plain binding protocol and for the typed
// stubs of `stream` (item = code 0, tagged = 8, ping call = 13, its reply = 14).
const NEAR_VALID: unknown[][] = [
  [0, 'echo', 'not an array'],
  [0, 17, []],
  [0, 'echo'],
  [1, 'id', 'echo', []],
  [1, -5, 'echo', []],
  [1, 1.5, 'echo', []],
  [1, 3, 'echo', 'not an array'],
  [2, 'x', 1],
  [2, 424242, 'reply to nothing'],
  [3, 1],
  [3, 1, null],
  [3, 1, 5],
  [3, 1, { code: 'x' }],
  [3, 1, { code: -1 }],
  [5, 'credit'],
  [5, -3],
  [7, 1, 2],
  ['op'],
  [8],
  [8, 'tag', 0, 1, 2],
  [8, 0.5, 0, 1, 2],
  [8, 0, 0, 'five', 0],
  [8, 0, 0, 1],
  [8, 0, 0, 1, 2, 3],
  [8, 0, 0, -1, 2],
  [8, 0, 8, 1, new ArrayBuffer(8)],
  [8, 0, 13, 'id', 1],
  [8, 0, 13, 1, 2 ** 32],
  [8, 0, 14, 1, 'ok', 5],
  [8, 0, 14, 1, 0.5],
  [8, 0, 99],
];
const nearValid = fc.constantFrom<unknown[]>(...NEAR_VALID);
const anything = fc
  .anything({ maxDepth: 2 })
  // A goodbye (opcode 4) ends the attacker's own binding, which is its right; leave it out here.
  .filter((v) => !(Array.isArray(v) && v[0] === 4));
const shot: fc.Arbitrary<Shot> = fc.oneof(
  anything.map((value) => ({ value })),
  nearValid.map((value) => ({ value })),
  // A port moved with a frame that is dropped must be closed by the victim.
  fc.tuple(nearValid, fc.nat(6)).map(([value, portAt]) => ({ value, portAt })),
);
const shots = fc.array(shot, { minLength: 1, maxLength: 16 });

/** What the victim must count as 'not a frame': anything but a non-empty array. */
const notFrames = (ss: Shot[]) => ss.filter((s) => !(Array.isArray(s.value) && s.value.length > 0)).length;

interface Counted {
  malformed: number;
  malformedBy: Record<string, number>;
}
const notAFrame = (c: Counted[]) => c.reduce((n, x) => n + (x.malformedBy['not a frame'] ?? 0), 0);

/** Fire batches at a victim; after each, it must have counted them, still be alive, and still serve. */
async function barrage(
  t: ExecutionContext,
  fire: (ss: Shot[]) => Promise<void>,
  counted: () => Promise<Counted[]>,
  alive: () => boolean,
  serves: () => Promise<boolean>,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(shots, async (ss) => {
      const before = notAFrame(await counted());
      await fire(ss);
      const want = before + notFrames(ss);
      if (!(await eventually(async () => notAFrame(await counted()) >= want))) return false;
      return alive() && (await serves());
    }),
    RUNS,
  );
  const all = await counted();
  t.true(
    all.every((c) => c.malformed >= (c.malformedBy['not a frame'] ?? 0)),
    'reasons add up to no more than the total',
  );
  t.true(
    all.some((c) => Object.keys(c.malformedBy).length > 1),
    'drops are counted by reason',
  );
}

async function portsClosed(t: ExecutionContext, who: Hostile): Promise<void> {
  const ok = await eventually(async () => {
    const p = await who.api.portsClosed();
    return p.sent > 0 && p.closed === p.sent;
  });
  t.true(
    ok,
    `every port sent with a dropped frame was closed: ${JSON.stringify(await who.api.portsClosed())}`,
  );
}

function hostServices(rt: Runtime) {
  const plain: Binding[] = [];
  const typed: StreamServer[] = [];
  rt.export('host-plain', (b) => {
    plain.push(b);
    b.handle('echo', (x: unknown) => x);
  });
  rt.serve(stream, 'host-typed', (s) => {
    typed.push(s);
    s.rpc.ping = (x) => ({ y: x + 1 });
  });
  return { plain, typed };
}

test('an actor attacks servers in the embedding program: dropped, counted, the program lives and serves', (t) =>
  withRuntime(t, async (rt) => {
    const { plain, typed } = hostServices(rt);
    const attacker = (await rt.spawn({ module: fixture('hostile') })) as Hostile;
    const good = await rt.spawn<typeof HostileActor>({ module: fixture('hostile') });
    for (const [service, kind] of [
      ['host-plain', 'plain'],
      ['host-typed', 'port'],
      ['host-typed', 'shm'],
    ] as const) {
      await attacker.api.connect(service, kind);
      await good.api.connect(service, kind);
      const key = `${service}/${kind}`;
      await barrage(
        t,
        (ss) => attacker.api.attack(key, ss),
        async () => [...plain, ...typed].map((e) => e.stats),
        () => true, // the test process itself is the victim: it is still here
        async () => (await good.api.clientWorks()) >= 1,
      );
    }
    await portsClosed(t, attacker);
    t.true(
      [...plain, ...typed].every((e) => e.isOpen),
      'no victim binding was ended by garbage',
    );
  }));

test('the embedding program attacks servers in an actor: the actor lives, counts, and serves', (t) =>
  withRuntime(t, async (rt) => {
    const victim = (await rt.spawn({ module: fixture('hostile'), args: { serve: 'v' } })) as Hostile;
    const plain = await rt.lookup('v-plain');
    const port = await rt.connect(stream, 'v-typed');
    const shm = await rt.connect(stream, 'v-typed', { transport: 'shm' });
    const goodPlain = await rt.lookup('v-plain');
    const goodTyped = await rt.connect(stream, 'v-typed', { transport: 'shm' });
    for (const attackerPort of [plain.port, port.binding.port, shm.binding.port]) {
      await barrage(
        t,
        async (ss) => {
          for (const s of ss) attackerPort.postMessage(s.value);
        },
        async () => {
          const s = await victim.api.serverStats();
          return [...s.plain, ...s.typed];
        },
        () => victim.state === 'running',
        async () => (await goodPlain.request('echo', 5)) === 5 && (await goodTyped.rpc.ping(1)).y === 2,
      );
    }
    t.is(victim.state, 'running');
  }));

test('a server attacks its clients: clients in an actor and in the embedding program count and carry on', (t) =>
  withRuntime(t, async (rt) => {
    // The actor is the server and the attacker; the embedding program's clients are victims.
    const server = (await rt.spawn({ module: fixture('hostile'), args: { serve: 's' } })) as Hostile;
    const victims: (Binding | StreamClient)[] = [
      await rt.lookup('s-plain'),
      await rt.connect(stream, 's-typed'),
      await rt.connect(stream, 's-typed', { transport: 'shm' }),
    ];
    await barrage(
      t,
      (ss) => server.api.attackClients(ss),
      async () => victims.map((v) => v.stats),
      () => victims.every((v) => v.isOpen),
      async () => {
        for (const v of victims) {
          if ('binding' in v) {
            if ((await v.rpc.ping(2)).y !== 3) return false;
          } else if ((await v.request('echo', 9)) !== 9) return false;
        }
        return true;
      },
    );
    await portsClosed(t, server);

    // The embedding program is the server and the attacker; an actor's clients are victims.
    const { plain, typed } = hostServices(rt);
    const client = (await rt.spawn({ module: fixture('hostile') })) as Hostile;
    await client.api.connect('host-plain', 'plain');
    await client.api.connect('host-typed', 'port');
    await client.api.connect('host-typed', 'shm');
    await barrage(
      t,
      async (ss) => {
        for (const e of [...plain, ...typed]) {
          const port = 'binding' in e ? e.binding.port : e.port;
          for (const s of ss) port.postMessage(s.value);
        }
      },
      () => client.api.clientStats(),
      () => client.state === 'running',
      async () => (await client.api.clientWorks()) === 3,
    );
  }));

test('the frames the issue named, one by one: each dropped with its reason, none thrown', (t) =>
  withRuntime(t, async (rt) => {
    const { plain, typed } = hostServices(rt);
    const attacker = (await rt.spawn({ module: fixture('hostile') })) as Hostile;
    await attacker.api.connect('host-plain', 'plain');
    await attacker.api.connect('host-typed', 'shm');
    const cases: [string, unknown, string][] = [
      ['host-plain/plain', null, 'not a frame'],
      ['host-plain/plain', undefined, 'not a frame'],
      ['host-plain/plain', [0, 'x', 5], 'bad notify'],
      ['host-plain/plain', [3, 1], 'bad failure'],
      ['host-plain/plain', [3, 1, null], 'bad error value'],
      ['host-plain/plain', [3, 1, { code: 'x' }], 'bad error value'],
      ['host-typed/shm', null, 'not a frame'],
      ['host-typed/shm', undefined, 'not a frame'],
      ['host-typed/shm', [8, 'tag'], 'port frame without ordering tag'],
      ['host-typed/shm', [8, 0, 0, 'five', 0], 'stream.item: arguments'],
    ];
    const stats = (key: string) => (key.startsWith('host-plain') ? plain[0]! : typed[0]!).stats;
    for (const [key, value, reason] of cases) {
      const before = stats(key).malformedBy[reason] ?? 0;
      await attacker.api.attack(key, [{ value }]);
      t.true(
        await eventually(() => (stats(key).malformedBy[reason] ?? 0) === before + 1),
        `${JSON.stringify(value)} → ${reason}`,
      );
    }
  }));

test('every near-valid frame is counted, one by one, on every binding kind', (t) =>
  withRuntime(t, async (rt) => {
    const victim = (await rt.spawn({ module: fixture('hostile'), args: { serve: 'v' } })) as Hostile;
    const total = async () => {
      const st = await victim.api.serverStats();
      // Malformed, or well-formed but for a protocol the binding does not speak (a typed
      // stub's frame on a plain binding): dropped either way, and counted.
      return [...st.plain, ...st.typed].reduce((n, c) => n + c.malformed + c.unhandled, 0);
    };
    const targets = [
      (await rt.lookup('v-plain')).port,
      (await rt.connect(stream, 'v-typed')).binding.port,
      (await rt.connect(stream, 'v-typed', { transport: 'shm' })).binding.port,
    ];
    for (const [i, port] of targets.entries()) {
      for (const frame of NEAR_VALID) {
        const before = await total();
        port.postMessage(frame);
        t.true(
          await eventually(async () => (await total()) === before + 1),
          `binding ${i}: ${JSON.stringify(frame)} counted once (${(await total()) - before})`,
        );
      }
    }
    t.is(victim.state, 'running');
  }));
