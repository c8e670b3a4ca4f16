// The name service, privileged exports, and bindings: identity, disconnect, pending requests.
import test from 'ava';
import { type Binding, type DisconnectReason, FishnetError } from '../../runtime/index.ts';
import type BehaveActor from '../fixtures/actors/behave.ts';
import type WatcherActor from '../fixtures/actors/watcher.ts';
import { eventually, fatal, fixture, withRuntime } from '../helpers/runtime.ts';

const code = (e: unknown) => (e instanceof FishnetError ? e.errName : String(e));

test('lookup of an unknown name: RT_ERR_SERVICE_NOT_FOUND; with a timeout: RT_ERR_LOOKUP_TIMEOUT', (t) =>
  withRuntime(t, async (rt) => {
    t.is(code(await rt.lookup('nobody').catch((e) => e)), 'RT_ERR_SERVICE_NOT_FOUND');
    const t0 = performance.now();
    t.is(code(await rt.lookup('nobody', { timeoutMs: 50 }).catch((e) => e)), 'RT_ERR_LOOKUP_TIMEOUT');
    t.true(performance.now() - t0 >= 45);
    const w = await rt.spawn<typeof WatcherActor>({ module: fixture('watcher') });
    t.is(code(await w.api.lookup('nobody').catch((e) => e)), 'RT_ERR_SERVICE_NOT_FOUND');
  }));

test('a lookup that waits is answered when the service appears', (t) =>
  withRuntime(t, async (rt) => {
    const w = await rt.spawn<typeof WatcherActor>({ module: fixture('watcher') });
    const waiting = w.api.lookup('later', 5000);
    const server = await rt.spawn({ module: fixture('behave'), args: { service: 'later' } });
    t.deepEqual(await waiting, { id: server.id, name: server.name });
  }));

test('exporting a taken name: RT_ERR_SERVICE_EXISTS; the name is free after its exporter dies', (t) =>
  withRuntime(t, async (rt) => {
    const a = await rt.spawn({ module: fixture('behave'), args: { service: 'svc' } });
    const w = await rt.spawn<typeof WatcherActor>({ module: fixture('watcher') });
    t.is(code(await w.api.exportName('svc').catch((e) => e)), 'RT_ERR_SERVICE_EXISTS');
    await a.kill();
    await w.api.exportName('svc');
    const b = await rt.lookup('svc');
    t.deepEqual(await b.request('who'), { id: 0, name: 'host' });
  }));

test('each side learns the peer from the runtime: the server sees the real client id', (t) =>
  withRuntime(t, async (rt) => {
    const server = await rt.spawn({ module: fixture('echo') });
    const c1 = await rt.spawn<typeof WatcherActor>({ module: fixture('watcher'), name: 'client-1' });
    const c2 = await rt.spawn<typeof WatcherActor>({ module: fixture('watcher'), name: 'client-2' });
    t.deepEqual(await c1.api.lookup('echo'), { id: server.id, name: server.name });
    await c2.api.lookup('echo');
    t.deepEqual(await c1.api.request('echo', 'whoami'), { id: c1.id, name: 'client-1' });
    t.deepEqual(await c2.api.request('echo', 'whoami'), { id: c2.id, name: 'client-2' });
  }));

test('privileged export: only the holder of the grant can connect, or export it', (t) =>
  withRuntime(t, async (rt) => {
    const ctl = rt.privileged('ether_netd');
    const driver = await rt.spawn<typeof WatcherActor>({
      module: fixture('watcher'),
      name: 'driver',
      caps: { ctl: ctl.export },
    });
    const netd = await rt.spawn<typeof WatcherActor>({
      module: fixture('watcher'),
      name: 'netd',
      caps: { driver: ctl.connect },
    });
    const rogue = await rt.spawn<typeof WatcherActor>({ module: fixture('watcher'), name: 'rogue' });

    // A rogue cannot squat the privileged name before the driver exports it.
    t.is(code(await rogue.api.exportName('ether_netd').catch((e) => e)), 'RT_ERR_NOT_PRIVILEGED');
    // netd holds connect, not export.
    t.is(code(await netd.api.exportCap('driver').catch((e) => e)), 'RT_ERR_BAD_CAPABILITY');
    await driver.api.exportCap('ctl');

    t.deepEqual(await netd.api.lookupCap('driver'), { id: driver.id, name: 'driver' });
    t.deepEqual(await netd.api.request('driver', 'who'), { id: netd.id, name: 'netd' });
    t.is(code(await rogue.api.lookup('ether_netd').catch((e) => e)), 'RT_ERR_NOT_PRIVILEGED');
    // Capability slots mean nothing in another actor: rogue has no slot 0.
    t.is(code(await rogue.api.lookupSlot(0).catch((e) => e)), 'RT_ERR_BAD_CAPABILITY');
    // The embedding program holds every right.
    const b = await rt.lookup('ether_netd');
    t.deepEqual(await b.request('who'), { id: 0, name: 'host' });
    // A name exported without privilege cannot be made privileged later.
    await rogue.api.exportName('plain');
    t.throws(() => rt.privileged('plain'), { message: /RT_ERR_SERVICE_EXISTS/ });
  }));

test('pending requests reject with RT_ERR_PEER_DIED and the DOWN reason when the server dies', (t) =>
  withRuntime(t, async (rt) => {
    const server = await rt.spawn<typeof BehaveActor>({
      module: fixture('behave'),
      args: { service: 'svc' },
    });
    const client = await rt.spawn<typeof WatcherActor>({ module: fixture('watcher') });
    await client.api.lookup('svc');
    const outcome = client.api.requestOutcome('svc', 'hang');
    const hostBinding = await rt.lookup('svc');
    const hostPending = hostBinding.request('hang');
    let disconnects = 0;
    hostBinding.onDisconnect(() => disconnects++);
    await new Promise((r) => setTimeout(r, 20));
    await fatal(server.api.crash());
    t.deepEqual(await outcome, {
      ok: false,
      code: 'RT_ERR_PEER_DIED',
      data: {
        kind: 'error',
        name: 'RangeError',
        message: 'asked to crash',
        stack: (server.exitReason as { stack: string }).stack,
      },
    });
    const e = await t.throwsAsync(hostPending);
    t.is(code(e), 'RT_ERR_PEER_DIED');
    const reason = await hostBinding.closed;
    t.is(reason.kind, 'peer-died');
    t.is(disconnects, 1);
    t.true(await eventually(async () => (await client.api.disconnects()).length === 1));
    t.is(
      code(await hostBinding.request('ping').catch((x) => x)),
      'RT_ERR_PEER_DIED',
      'later requests fail at once',
    );
    t.throws(() => hostBinding.notify('ping'), { message: /RT_ERR_PEER_DIED/ });
  }));

test('the server side is told when a client dies', (t) =>
  withRuntime(t, async (rt) => {
    const seen: DisconnectReason[] = [];
    let serverSide: Binding | undefined;
    rt.export('host-svc', (b) => {
      serverSide = b;
      b.handle('hang', () => new Promise(() => {}));
      b.onDisconnect((r) => seen.push(r));
    });
    const client = await rt.spawn<typeof WatcherActor>({ module: fixture('watcher') });
    t.deepEqual(await client.api.lookup('host-svc'), { id: 0, name: 'host' });
    t.is(serverSide!.peer.id, client.id);
    await client.kill();
    t.deepEqual(await serverSide!.closed, { kind: 'peer-died', reason: { kind: 'killed', cause: 'kill' } });
    t.deepEqual(seen, [{ kind: 'peer-died', reason: { kind: 'killed', cause: 'kill' } }]);
    t.is(rt.stats().bindings, 0);
  }));

test('closing a binding: the peer sees closed-by-peer, pending requests reject with RT_ERR_BINDING_CLOSED', (t) =>
  withRuntime(t, async (rt) => {
    await rt.spawn({ module: fixture('behave'), args: { service: 'svc' } });
    const b = await rt.lookup('svc');
    const pending = b.request('hang');
    b.close();
    t.is(code(await pending.catch((e) => e)), 'RT_ERR_BINDING_CLOSED');
    t.deepEqual(await b.closed, { kind: 'closed', by: 'self' });
    t.is(rt.stats().bindings, 0);
  }));

test('errors thrown by a handler cross the binding as typed errors', (t) =>
  withRuntime(t, async (rt) => {
    rt.export('errs', (b) => {
      b.handle('typed', () => {
        throw new FishnetError('RT_ERR_TIMEOUT', 'as asked');
      });
      b.handle('plain', () => {
        throw new TypeError('oops');
      });
    });
    const w = await rt.spawn<typeof WatcherActor>({ module: fixture('watcher') });
    await w.api.lookup('errs');
    const typed = (await w.api.request('errs', 'typed').catch((e: Error) => e)) as Error;
    t.regex(typed.message, /RT_ERR_TIMEOUT.*as asked/);
    const plain = (await w.api.request('errs', 'plain').catch((e: Error) => e)) as Error;
    t.regex(plain.message, /RT_ERR_HANDLER_FAILED.*TypeError: oops/);
    const missing = (await w.api.request('errs', 'nope').catch((e: Error) => e)) as Error;
    t.regex(missing.message, /RT_ERR_NO_HANDLER/);
  }));

test('a server can refuse a connection by throwing: the client gets the error, no binding is left', (t) =>
  withRuntime(t, async (rt) => {
    rt.export('picky', () => {
      throw new FishnetError('RT_ERR_NOT_PRIVILEGED', 'not you');
    });
    const e = await rt.lookup('picky').catch((x) => x);
    t.is(code(e), 'RT_ERR_NOT_PRIVILEGED');
    t.is(rt.stats().bindings, 0);
  }));

test("a peer's last frames arrive before the news of its death, on every transport", (t) =>
  withRuntime(t, async (rt) => {
    const { stream } = await import('../fixtures/protocols/generated/stream.ts');
    const words = 500; // fits a ring of 1024 without waiting
    for (const transport of [undefined, 'port', 'shm'] as const) {
      const service = `listener-${transport ?? 'plain'}`;
      const got: number[] = [];
      let atDisconnect = -1;
      if (transport === undefined) {
        rt.export(service, (b) => {
          b.handle('word', (i: number) => got.push(i));
          b.onDisconnect(() => {
            atDisconnect = got.length;
          });
        });
      } else {
        rt.serve(stream, service, (s) => {
          s.rx.item = (seq) => got.push(seq);
          s.binding.onDisconnect(() => {
            atDisconnect = got.length;
          });
        });
      }
      const a = await rt.spawn({ module: fixture('last-words'), args: { service, words, transport } });
      t.deepEqual(await a.exited, { kind: 'normal' });
      t.true(await eventually(() => atDisconnect >= 0), `${service}: disconnected`);
      t.is(atDisconnect, words, `${service}: every word before the disconnect`);
      t.deepEqual(
        got,
        Array.from({ length: words }, (_, i) => i),
      );
    }
  }));
