// The DHCP server app on one machine; machines booted with { dhcp } get their
// addresses from it over the virtual switch, through the createNetwork facade.
// Garbage on port 67 is counted and changes nothing.
import test from 'ava';
import type Dhcpd from '../../actors/apps/dhcpd.ts';
import { createNetwork } from '../../embed/index.ts';
import { BROADCAST_MAC, formatIpv4, ipv4, mac, udpFrame } from '../../lib/net/index.ts';
import type { ActorRef, ApiOf } from '../../runtime/index.ts';
import { eventually } from '../helpers/runtime.ts';

const DHCPD = new URL('../../actors/apps/dhcpd.ts', import.meta.url);

test('machines booted with { dhcp } lease addresses from the dhcpd app; garbage on port 67 is counted', async (t) => {
  const net = await createNetwork({ runtimeOptions: { prestart: 0 } });
  try {
    const server = await net.boot({ name: 'srv', address: '10.7.0.1/24' });
    const d = (await server.spawn({
      module: DHCPD,
      args: { pool: ['10.7.0.50', '10.7.0.59'], router: '10.7.0.1', leaseSeconds: 600 },
      lowPorts: true,
    })) as ActorRef<ApiOf<typeof Dhcpd>>;
    // A hostile client's garbage first: truncated and bad-magic DHCP to port 67.
    const wire = net.tap();
    for (const payload of [new Uint8Array(10), new Uint8Array(300).fill(7)]) {
      wire.send(
        udpFrame({
          dstMac: BROADCAST_MAC,
          srcMac: mac('02:00:00:00:66:66'),
          src: ipv4('0.0.0.0'),
          dst: ipv4('255.255.255.255'),
          srcPort: 68,
          dstPort: 67,
          payload,
        }),
      );
    }
    t.true(await eventually(async () => (await d.api.stats()).malformed === 2));

    const a = await net.boot({ name: 'a', address: { dhcp: {} } });
    const b = await net.boot({ name: 'b', address: { dhcp: {} } });
    const addr = async (m: typeof a) => {
      const x = (await m.inspect()).address as { ip: number; gw: number; mask: number };
      return {
        ip: formatIpv4(x.ip as never),
        gw: formatIpv4(x.gw as never),
        mask: formatIpv4(x.mask as never),
      };
    };
    t.deepEqual(await addr(a), { ip: '10.7.0.50', gw: '10.7.0.1', mask: '255.255.255.0' });
    t.deepEqual(await addr(b), { ip: '10.7.0.51', gw: '10.7.0.1', mask: '255.255.255.0' });
    const leases = await d.api.leases();
    t.deepEqual(leases.map((l) => [l.address, l.state]).sort(), [
      ['10.7.0.50', 'bound'],
      ['10.7.0.51', 'bound'],
    ]);
    const s = await d.api.stats();
    t.is(s.sendErrors, 0);
    t.true(s.replies >= 4, 'an OFFER and an ACK each');
    t.is(net.machine('a'), a);
    t.is(a.running.length, 0);
    t.is(server.running.length, 1);
  } finally {
    await net.close();
  }
  t.deepEqual(net.runtime.stats(), { actors: 0, monitors: 0, bindings: 0, idleThreads: 0 });
});
