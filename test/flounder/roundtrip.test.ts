// Every message of every interface, over both transports: what one side sends, the other receives.
import { MessageChannel } from 'node:worker_threads';
import test from 'ava';
import { ether } from '../../protocols/generated/ether.ts';
import { ether_netd } from '../../protocols/generated/ether_netd.ts';
import { netd } from '../../protocols/generated/netd.ts';
import type { InterfaceDescriptor, Transport } from '../../runtime/binding/transport-mux.ts';
import { Err, FishnetError } from '../../runtime/index.ts';
import type MirrorActor from '../fixtures/actors/mirror.ts';
import { kitchen } from '../fixtures/protocols/generated/kitchen.ts';
import { stream } from '../fixtures/protocols/generated/stream.ts';
import { eventually, fixture, withRuntime } from '../helpers/runtime.ts';
import { normal, SEEDS, sampleArgs, sampleOuts } from '../helpers/samples.ts';

const all: InterfaceDescriptor<any, any>[] = [ether, ether_netd, netd, kitchen, stream];
// Tested on their own below: capabilities that must be ports, and an rpc that fails on purpose.
const special = new Set(['kitchen.caps', 'kitchen.fail', 'stream.tagged']);

for (const iface of all) {
  for (const transport of ['port', 'shm'] as Transport[]) {
    test(`${iface.name} over ${transport}: every message and rpc arrives intact, both ways`, (t) =>
      withRuntime(t, async (rt) => {
        const service = `${iface.name}-${transport}`;
        const mirror = await rt.spawn<typeof MirrorActor>({
          module: fixture('mirror'),
          args: { iface: iface.name, service },
        });
        const client = await rt.connect(iface, service, { transport });
        t.is(client.transport, transport);
        const got: { name: string; args: unknown }[] = [];
        for (const m of iface.messages) {
          if (m.kind === 'message' && m.direction !== 'c2s') {
            client.rx[m.name] = (...a: unknown[]) => got.push({ name: m.name, args: normal(a) });
          }
        }
        const expected: { name: string; args: unknown }[] = [];
        for (const seed of SEEDS) {
          for (const m of iface.messages) {
            if (special.has(`${iface.name}.${m.name}`)) continue;
            const args = sampleArgs(m, seed);
            if (m.kind === 'message' && m.direction !== 's2c') {
              while (!client.tx[m.name](...args)) await client.writable();
              expected.push({ name: m.name, args: normal(args) });
            }
            if (m.kind === 'rpc') {
              const result = await client.rpc[m.name](...args);
              expected.push({ name: m.name, args: normal(args) });
              const want =
                m.name === 'add'
                  ? { sum: ((args[0] as number) + (args[1] as number)) >>> 0 }
                  : sampleOuts(m, 0);
              t.deepEqual(normal(result), normal(want), `${m.name} seed ${seed}`);
            }
          }
        }
        // The rpcs above were answered in order, so everything sent before them has arrived.
        t.deepEqual(await mirror.api.received(), expected);

        const sent = await mirror.api.emitAll(SEEDS);
        t.true(await eventually(() => got.length === sent));
        const want = SEEDS.flatMap((seed) =>
          iface.messages
            .filter((m) => m.kind === 'message' && m.direction !== 'c2s')
            .map((m) => ({ name: m.name, args: normal(sampleArgs(m, seed)) })),
        );
        t.deepEqual(got, want);
        const serverStats = (await mirror.api.stats())!;
        for (const s of [client.stats, serverStats]) {
          t.is(s.malformed, 0);
          t.is(s.unhandled, 0);
        }
        // On shm the scalar messages took the ring; on the port transport nothing did.
        const ringable = iface.messages.some((m) => m.ring && m.direction !== 's2c');
        if (transport === 'shm' && ringable) t.true(client.stats.viaRing > 0);
        if (transport === 'shm')
          t.true(serverStats.viaRing > 0 || !iface.messages.some((m) => m.kind === 'rpc'));
        if (transport === 'port') t.is(client.stats.viaRing + serverStats.viaRing, 0);
      }));
  }
}

for (const transport of ['port', 'shm'] as Transport[]) {
  test(`capabilities over ${transport}: shared memory is shared, a port moves and works`, (t) =>
    withRuntime(t, async (rt) => {
      const mirror = await rt.spawn({ module: fixture('mirror'), args: { iface: 'kitchen', service: 'k' } });
      const client = await rt.connect(kitchen, 'k', { transport });
      const region = new SharedArrayBuffer(8);
      const { port1, port2 } = new MessageChannel();
      const heard = new Promise((r) => port1.once('message', r));
      t.true(client.tx.caps(region, port2, 77));
      t.is(await heard, `tag 77 from ${mirror.name}`);
      t.is(new Uint8Array(region)[0], 0xee, 'the actor wrote into our memory');
      port1.close();
    }));

  test(`rpc errors over ${transport}: the registry code crosses, with the rpc named`, (t) =>
    withRuntime(t, async (rt) => {
      await rt.spawn({ module: fixture('mirror'), args: { iface: 'kitchen', service: 'k' } });
      const client = await rt.connect(kitchen, 'k', { transport });
      for (const code of [Err.PORT_ERR_IN_USE, Err.RT_ERR_NOPROC, Err.LWIP_ERR_RST]) {
        const e = await t.throwsAsync(client.rpc.fail(code));
        t.true(e instanceof FishnetError);
        t.is((e as FishnetError).code, code);
        t.regex(e!.message, /kitchen\.fail/);
      }
      t.deepEqual(await client.rpc.add(0xffff_ffff, 2), { sum: 1 });
    }));
}
