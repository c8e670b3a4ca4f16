// The stack's link to the driver when the driver lies (test/fixtures/actors/ether-liar.ts):
// pbufs it was never given, offsets and lengths that do not fit, refused pbufs,
// tx_done for slots not in flight or twice, and its death. Each is counted, the pbuf
// ring stays stocked, transmit slots are never lost or freed twice, and the
// application's actor lives on.
import test from 'ava';
import { type Ipv4Addr, type Mac, udpFrame } from '../../lib/net/index.ts';
import { Err } from '../../protocols/errors.ts';
import { type ActorRef, type ApiOf, Runtime } from '../../runtime/index.ts';
import type EtherLiar from '../fixtures/actors/ether-liar.ts';
import { LIAR_IP, LIAR_MAC } from '../fixtures/actors/ether-liar.ts';
import type LwipPeer from '../fixtures/actors/lwip-peer.ts';
import { eventually, fixture } from '../helpers/runtime.ts';

const frame = (payload: string) =>
  udpFrame({
    dstMac: LIAR_MAC as Mac,
    srcMac: 0x02_00_00_00_99_09 as Mac,
    src: 0x0a09_0009 as Ipv4Addr,
    dst: LIAR_IP as Ipv4Addr,
    srcPort: 1234,
    dstPort: 7000,
    payload: Buffer.from(payload),
  });

test('a lying driver: every bad report counted, pbufs go back, slots are neither lost nor freed twice, its death is ENETDOWN', async (t) => {
  const rt = new Runtime({ prestart: 0 });
  try {
    const liar = (await rt.spawn({ module: fixture('ether-liar'), args: { name: 'liar' } })) as ActorRef<
      ApiOf<typeof EtherLiar>
    >;
    const peer = (await rt.spawn({
      module: fixture('lwip-peer'),
      args: { machine: 'liar', rxPbufs: 8, txSlots: 4 },
    })) as ActorRef<ApiOf<typeof LwipPeer>>;
    t.true(await eventually(async () => (await liar.api.registered()) === 8));
    const s = await peer.api.create();
    t.deepEqual(await peer.api.bindTo(s, 7000), { ok: true });
    const link = async () => (await peer.api.stats()).link;

    // An honest report: delivered, and the pbuf comes straight back.
    t.true(await liar.api.deliver(frame('honest')));
    t.true(await eventually(async () => (await peer.api.messages(s)).length === 1));
    t.true(await eventually(async () => (await liar.api.registered()) === 9));

    // A pbuf it was never given; one reported at another offset; one longer than its pbuf.
    await liar.api.report(999, 0, 2048, 60);
    t.true(await liar.api.deliver(frame('moved'), { offset: 4096 + 2 }));
    t.true(await liar.api.deliver(frame('too long'), { len: 4000 }));
    t.true(await liar.api.deliver(frame('zero'), { len: 0 }));
    t.true(
      await eventually(async () => {
        const l = await link();
        return (
          l.rxBadReport.unknownPbuf === 1 && l.rxBadReport.badOffset === 1 && l.rxBadReport.badLength === 2
        );
      }),
    );
    t.is((await peer.api.messages(s)).length, 1, 'none of them delivered');
    t.true(
      await eventually(async () => (await liar.api.registered()) === 12),
      'the misreported pbufs came back',
    );
    t.is((await link()).pbufsPosted, 8);

    // A refused pbuf is retired, counted by the driver's error.
    t.true(await liar.api.refuseOldest(Err.E1000_ERR_BAD_PBUF));
    t.true(await eventually(async () => (await link()).pbufsPosted === 7));
    t.deepEqual((await link()).pbufsRefused, { E1000_ERR_BAD_PBUF: 1 });

    // Transmit: four slots. tx_done for a slot not in flight is counted and frees nothing.
    await liar.api.autoDone(false);
    await peer.api.setBroadcast(s, true);
    await liar.api.txDone(2, Err.OK);
    t.true(await eventually(async () => (await link()).txUnknownDone === 1));
    const sends = [1, 2, 3, 4].map((i) => peer.api.send(s, `b${i}`, 9, '255.255.255.255'));
    t.true(await eventually(async () => (await liar.api.transmits()).length === 4));
    t.like(await peer.api.send(s, 'one too many', 9, '255.255.255.255'), {
      error: { code: 'ENOBUFS', syscall: 'send' },
    });
    const slots = (await liar.api.transmits()).map(([slot]) => slot);
    t.is(new Set(slots).size, 4);
    await liar.api.txDone(slots[0]!, Err.OK);
    await liar.api.txDone(slots[1]!, Err.ETHSRV_ERR_TX_REFUSED);
    await liar.api.txDone(slots[1]!, Err.OK); // twice: the second is a lie
    await liar.api.txDone(slots[2]!, Err.OK);
    await liar.api.txDone(slots[3]!, Err.OK);
    const outcomes = await Promise.all(sends);
    t.deepEqual(outcomes[0], { bytes: 2 });
    t.like(outcomes[1], { error: { code: 'EPERM' } });
    t.deepEqual(outcomes.slice(2), [{ bytes: 2 }, { bytes: 2 }]);
    const l = await link();
    t.is(l.txUnknownDone, 2);
    t.deepEqual(l.txFailed, { ETHSRV_ERR_TX_REFUSED: 1 });
    t.is(l.slotsFree, 4, 'every slot back, none twice');
    t.is(Buffer.from((await liar.api.sentFrame(0)).subarray(42)).toString(), 'b1');

    // The driver dies: sends fail with ENETDOWN, the application lives on.
    await liar.kill();
    t.true(
      await eventually(async () => {
        const r = await peer.api.send(s, 'anyone?', 9, '255.255.255.255');
        return 'error' in r && r.error.code === 'ENETDOWN';
      }),
    );
    t.is(peer.state, 'running');
  } finally {
    await rt.shutdown();
    t.deepEqual(rt.stats(), { actors: 0, monitors: 0, bindings: 0, idleThreads: 0 });
  }
});
