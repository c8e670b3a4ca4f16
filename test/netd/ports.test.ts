// netd's port service: ephemeral and bound ports, conflicts and refusals, each
// checked against the buffers and the binding's peer; frames reach an open port.
import test from 'ava';
import { PortAllocator } from '../../actors/netd/ports.ts';
import { ArpOp, arpFrame, ipv4, mac, udpFrame } from '../../lib/net/index.ts';
import { Err } from '../../protocols/errors.ts';
import { withNetd } from '../helpers/netd.ts';
import { eventually } from '../helpers/runtime.ts';

const PEER_MAC = mac('02:00:00:00:00:99');
const PEER_IP = ipv4('10.0.0.9');
const MACHINE_IP = ipv4('10.0.0.2');

test('the allocator: ephemeral ports in order, a freed one goes to the back, exhaustion is 0', (t) => {
  const a = new PortAllocator({ first: 50000, last: 50003 });
  t.deepEqual([a.allocate('udp'), a.allocate('udp')], [50000, 50001]);
  a.release('udp', 50000);
  t.deepEqual([a.allocate('udp'), a.allocate('udp'), a.allocate('udp')], [50002, 50003, 50000]);
  t.is(a.allocate('udp'), 0, 'exhausted');
  t.is(a.allocate('tcp'), 50000, 'TCP is a space of its own');
  t.true(a.take('udp', 53));
  t.false(a.take('udp', 53));
  t.false(a.take('udp', 50001), 'an ephemeral port in use cannot be bound');
  a.release('udp', 50001);
  t.true(a.take('udp', 50001), 'a freed ephemeral port can be bound');
  t.throws(() => new PortAllocator({ first: 80, last: 90 }), { instanceOf: RangeError });
});

test('get_port, bind_port, close_port: ports, conflicts, owners, privilege', (t) =>
  withNetd(t, async (r) => {
    const a = await r.client();
    const b = await r.client();
    const p = await a.api.openPort('udp');
    t.is(p, 49152);
    t.is(await a.api.openPort('udp', 7000), 7000);
    t.is(await b.api.openPort('udp', 7000), 'PORT_ERR_IN_USE');
    t.is(await b.api.openPort('tcp', 7000), 7000, 'TCP and UDP are apart');
    t.is(await b.api.closePort('udp', 7000), 'PORT_ERR_NOT_OWNER');
    t.is(await b.api.closePort('udp', 7001), 'PORT_ERR_NOT_FOUND');
    t.is(await a.api.openPort('udp', 53), 'PORT_ERR_PRIVILEGED');
    const ia = await a.api.ids();
    const ib = await b.api.ids();
    t.is(await b.api.openPort('udp', 7100, ia.rx, ib.tx), 'PORT_ERR_NOT_OWNER', "another client's buffer");
    t.is(await b.api.openPort('udp', 7101, 99999, ib.tx), 'PORT_ERR_BAD_BUFFER');
    t.is(await a.api.closePort('udp', 7000), 'OK');
    t.is(await b.api.openPort('udp', 7000), 7000, 'free again after close');
    const s = (await r.netd().api.statistics()) as { ports: { refused: Record<string, number> } };
    t.is(s.ports.refused.PORT_ERR_IN_USE, 1);
    const priv = await r.client({}, true);
    t.is(await priv.api.openPort('udp', 53), 53, 'with the capability for low ports');
    t.deepEqual(
      (await r.netd().api.ports()).map((x) => [x.type, x.port, x.state]).sort(),
      [
        ['tcp', 7000, 'open'],
        ['udp', 49152, 'open'],
        ['udp', 53, 'open'],
        ['udp', 7000, 'open'],
      ].sort(),
    );
  }));

test('an open port gets its frames; the filter follows the machine address netd has', (t) =>
  withNetd(t, async (r) => {
    const a = await r.client();
    t.is(await a.api.openPort('udp', 7000), 7000);
    t.deepEqual(await a.api.ipInfo(), { ip: MACHINE_IP, gw: ipv4('10.0.0.1'), mask: ipv4('255.255.255.0') });
    r.wire.send(
      udpFrame({
        dstMac: r.m.mac,
        srcMac: PEER_MAC,
        src: PEER_IP,
        dst: MACHINE_IP,
        srcPort: 5000,
        dstPort: 7000,
        payload: new Uint8Array([1, 2, 3]),
      }),
    );
    t.true(await eventually(async () => (await a.api.received()).count === 1));
    // Inspection: the port, its owner and filter, and what the filter claimed.
    const view = await r.m.inspect();
    t.is(view.ports.length, 1);
    t.like(view.ports[0], { type: 'udp', port: 7000, owner: a.id, state: 'open', rxFrames: 1 });
    t.like(view.address, { ip: MACHINE_IP });
  }));

test('racing binds from several clients: exactly one wins each port', (t) =>
  withNetd(t, async (r) => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => r.client()));
    const results = await Promise.all(
      clients.flatMap((c) => [7000, 7001, 7002].map((p) => c.api.openPort('udp', p))),
    );
    for (const p of [7000, 7001, 7002]) t.is(results.filter((x) => x === p).length, 1, `port ${p}`);
    t.is(results.filter((x) => x === 'PORT_ERR_IN_USE').length, 15);
  }));

test('ephemeral ports exhausted: PORT_ERR_NO_MORE_PORT, never a wrap or a crash', (t) =>
  withNetd(
    t,
    async (r) => {
      const a = await r.client();
      const got = [];
      for (let i = 0; i < 5; i++) got.push(await a.api.openPort('udp'));
      t.deepEqual(got, [60000, 60001, 60002, 60003, 'PORT_ERR_NO_MORE_PORT']);
      t.is(await a.api.closePort('udp', 60001), 'OK');
      t.is(await a.api.openPort('udp'), 60001);
    },
    { ephemeral: { first: 60000, last: 60003 } },
  ));

test('one client cannot take every port: past its share it gets PORT_ERR_QUOTA, the next client is served', (t) =>
  withNetd(
    t,
    async (r) => {
      const hog = await r.client();
      const got = [];
      for (let i = 0; i < 4; i++) got.push(await hog.api.openPort('udp'));
      got.push(await hog.api.openPort('udp', 7000), await hog.api.openPort('tcp', 7001));
      t.deepEqual(
        got.slice(3),
        [49155, 'PORT_ERR_QUOTA', 'PORT_ERR_QUOTA'],
        'both ways to a port are counted',
      );
      // The quota is the actor's, over all its bindings: a second binding gets no more.
      t.is(await hog.api.openPort('udp', 7002, undefined, undefined, true), 'PORT_ERR_QUOTA');
      const good = await r.client();
      t.is(await good.api.openPort('udp'), 49156, 'the next client is served');
      // A port given back is a port the hog may open again.
      t.is(await hog.api.closePort('udp', 49153), 'OK');
      t.is(await hog.api.openPort('udp', 7000), 7000);
      const st = (await r.netd().api.statistics()) as { ports: { refused: Record<string, number> } };
      t.is(st.ports.refused.PORT_ERR_QUOTA, 3);
    },
    { portsPerClient: 4 },
  ));

test("a client may ARP for the machine's address only: claiming the gateway's is refused", (t) =>
  withNetd(t, async (r) => {
    const a = await r.client();
    const arp = (senderIp: number) =>
      Array.from(
        arpFrame({
          dstMac: PEER_MAC,
          srcMac: r.m.mac,
          op: ArpOp.REPLY,
          senderMac: r.m.mac,
          senderIp: senderIp as never,
          targetMac: PEER_MAC,
          targetIp: PEER_IP,
        }),
      );
    const before = r.onWire.length;
    t.deepEqual(await a.api.send(arp(MACHINE_IP)), [Err.OK]);
    t.deepEqual(await a.api.send(arp(ipv4('10.0.0.1'))), [Err.ETHSRV_ERR_TX_REFUSED]);
    t.true(await r.wireCount(before + 1));
    await new Promise((res) => setTimeout(res, 50));
    t.is(r.onWire.length, before + 1);
  }));
