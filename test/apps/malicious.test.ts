// The malicious client against a real machine (driver and netd): every attempt is
// refused or contained, nothing forged reaches the wire (read back from a tap), and
// the client it attacks keeps its port and its traffic.
import test from 'ava';
import { examine } from '../../actors/apps/malicious/evidence.ts';
import type Malicious from '../../actors/apps/malicious/main.ts';
import { ipv4, mac, udpFrame } from '../../lib/net/index.ts';
import type { ActorRef, ApiOf } from '../../runtime/index.ts';
import { withNetd } from '../helpers/netd.ts';
import { eventually } from '../helpers/runtime.ts';

const MALICIOUS = new URL('../../actors/apps/malicious/main.ts', import.meta.url);

test('every attempt of the malicious client is blocked or contained; nothing forged is on the wire; its victim is unharmed', (t) =>
  withNetd(t, async (r) => {
    const victim = await r.client();
    t.is(await victim.api.openPort('udp', 7000), 7000);
    const bad = (await r.rt.spawn({
      module: MALICIOUS,
      args: {
        machine: 'm1',
        victimPort: 7000,
        peer: { ip: '10.0.0.9' },
        floodFrames: 5000,
        raceFrames: 1000,
      },
    })) as ActorRef<ApiOf<typeof Malicious>>;
    const report = await bad.api.run();
    if (process.env.SHOW) console.log(JSON.stringify(report, null, 1));
    const byName = Object.fromEntries(report.attempts.map((a) => [a.name, a]));
    t.is(byName['control: a frame from its own port']?.outcome, 'sent');
    for (const a of report.attempts.slice(1)) {
      t.true(
        a.outcome === 'blocked' || a.outcome === 'contained',
        `${a.name}: ${a.outcome} ${JSON.stringify(a.verdicts)}`,
      );
    }
    t.true(report.attempts.length >= 12);
    t.like(byName["close another client's port"]?.verdicts, { PORT_ERR_NOT_OWNER: 1 });
    t.like(byName['open a privileged port without the capability']?.verdicts, { PORT_ERR_PRIVILEGED: 1 });
    t.like(byName["send from another client's port"]?.verdicts, { ETHSRV_ERR_TX_REFUSED: 1 });
    const race = byName['rewrite the header after submitting it (another thread races the driver)']!;
    t.is(race.tried, 1000);
    const flood = byName['flood its ring to the driver']!;
    t.is(flood.tried, 5000);
    t.false('no answer' in flood.verdicts, 'every flooded frame got a verdict');

    // The wire: the control frame and the frames it was entitled to, nothing forged.
    await new Promise((res) => setTimeout(res, 100));
    const evidence = r.onWire.map((f) => examine(f, report.identity)).filter((e) => e !== undefined);
    t.true(
      evidence.some((e) => e.attempt === 1 && !e.forged),
      'the control frame went out',
    );
    t.deepEqual(
      evidence.filter((e) => e.forged),
      [],
    );
    const onWireFromRace = evidence.filter((e) => e.attempt === race.n).length;
    t.is(onWireFromRace, race.accepted, 'every accepted raced frame went out, as it was checked');

    // The victim still owns its port and still gets its frames.
    const ports = await r.netd().api.ports();
    t.like(
      ports.find((p) => p.port === 7000),
      { owner: victim.id, state: 'open' },
    );
    victim.api.clear();
    r.wire.send(
      udpFrame({
        dstMac: r.m.mac,
        srcMac: mac('02:00:00:00:00:99'),
        src: ipv4('10.0.0.9'),
        dst: ipv4('10.0.0.2'),
        srcPort: 5000,
        dstPort: 7000,
        payload: new Uint8Array(8),
      }),
    );
    t.true(await eventually(async () => (await victim.api.received()).count >= 1));
  }));
