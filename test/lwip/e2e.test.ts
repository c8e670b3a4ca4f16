// The client stack end to end: application actors on two machines (each an emulated
// e1000, its driver, a netd-lite) talk UDP over the virtual switch through lib/lwip:
// ARP resolved through the driver's replication, datagrams both ways, broadcast,
// fragments, ICMP errors, ports and their release, an address that changes, and a
// hostile peer's frames.
import test from 'ava';
import {
  ArpOp,
  arpFrame,
  BROADCAST_MAC,
  ipv4Frame,
  type Mac,
  readU32,
  udpFrame,
} from '../../lib/net/index.ts';
import { eventually, IP1, IP2, type Peer, TAP_IP, TAP_MAC, withTwoMachines } from './network.ts';

const text = (d: Uint8Array) => Buffer.from(d).toString();

async function bound(p: Peer, port?: number, address?: string): Promise<number> {
  const id = await p.api.create();
  const r = await p.api.bindTo(id, port, address);
  if (!('ok' in r)) throw new Error(`bind failed: ${JSON.stringify(r)}`);
  return id;
}

test.serial(
  'UDP both ways between two machines; ARP resolved through the driver copying ARP to every client',
  (t) =>
    withTwoMachines(t, async (n) => {
      const a = await n.peer(n.m1);
      const b = await n.peer(n.m2);
      const sa = await bound(a, 5000);
      const sb = await bound(b, 6000);
      t.deepEqual(await a.api.send(sa, 'ping', 6000, '10.1.0.2'), { bytes: 4 });
      t.true(await eventually(async () => (await b.api.messages(sb)).length === 1));
      const [m] = await b.api.messages(sb);
      t.is(text(m!.data), 'ping');
      t.deepEqual(m!.rinfo, { address: '10.1.0.1', family: 'IPv4', port: 5000, size: 4 });
      // The answer goes back to where it came from; b learned a from a's request.
      t.deepEqual(await b.api.send(sb, 'pong', 5000, '10.1.0.1'), { bytes: 4 });
      t.true(await eventually(async () => (await a.api.messages(sa)).length === 1));
      t.is(text((await a.api.messages(sa))[0]!.data), 'pong');
      const sta = (await a.api.stats()).stack;
      const stb = (await b.api.stats()).stack;
      // One request; a second only if the first answer took longer than the 1 s retry (a loaded machine).
      t.true(sta.arp.requestsSent >= 1 && sta.arp.requestsSent <= 2, `${sta.arp.requestsSent} requests`);
      t.is(stb.arp.requestsSent, 0, 'b learned a from the request the driver copied to it');
      t.like(await a.api.neighbour(IP2), { state: 'reachable', mac: n.m2.m.mac });
      t.is(await n.m2.netd.arpAnswered(), sta.arp.requestsSent);
      // A burst both ways, in order.
      const many = 200;
      for (let i = 0; i < many; i++) void a.api.send(sa, `a${i}`, 6000, '10.1.0.2');
      for (let i = 0; i < many; i++) void b.api.send(sb, `b${i}`, 5000, '10.1.0.1');
      t.true(await eventually(async () => (await b.api.messages(sb)).length === many + 1, 10_000));
      t.true(await eventually(async () => (await a.api.messages(sa)).length === many + 1, 10_000));
      t.deepEqual(
        (await b.api.messages(sb)).slice(1).map((x) => text(x.data)),
        Array.from({ length: many }, (_, i) => `a${i}`),
      );
      // Every pbuf went back to the driver.
      const link = (await b.api.stats()).link;
      t.is(link.pbufsPosted, 256);
      t.is(link.rxBadReport.unknownPbuf + link.rxBadReport.badLength + link.rxBadReport.badOffset, 0);
    }),
);

test.serial(
  'broadcast: EACCES without setBroadcast; with it, 255.255.255.255 and the subnet broadcast reach a bound port on the other machine',
  (t) =>
    withTwoMachines(t, async (n) => {
      const a = await n.peer(n.m1);
      const b = await n.peer(n.m2);
      const sa = await bound(a);
      const sb = await bound(b, 6700);
      t.like(await a.api.send(sa, 'hello all', 6700, '255.255.255.255'), {
        error: { code: 'EACCES', syscall: 'send', message: 'send EACCES 255.255.255.255:6700' },
      });
      await a.api.setBroadcast(sa, true);
      t.deepEqual(await a.api.send(sa, 'hello all', 6700, '255.255.255.255'), { bytes: 9 });
      t.true(await eventually(async () => (await b.api.messages(sb)).length === 1));
      const [m] = await b.api.messages(sb);
      t.is(text(m!.data), 'hello all');
      t.is(m!.rinfo.address, '10.1.0.1');
      const onWire = n.onWire.filter((f) => f[12] === 8 && f[13] === 0 && readU32(f, 30) === 0xffff_ffff);
      t.is(onWire.length, 1, 'one broadcast on the wire');
      t.deepEqual(Array.from(onWire[0]!.subarray(0, 6)), [255, 255, 255, 255, 255, 255]);
      t.is((await a.api.stats()).stack.arp.requestsSent, 0, 'no ARP for a broadcast');
      // The subnet's directed broadcast reaches the open port too, as on Linux.
      t.deepEqual(await a.api.send(sa, 'hello subnet', 6700, '10.1.0.255'), { bytes: 12 });
      t.true(await eventually(async () => (await b.api.messages(sb)).length === 2));
      t.is(text((await b.api.messages(sb))[1]!.data), 'hello subnet');
    }),
);

test.serial('a 20,000-byte datagram: fragmented on send, reassembled on receive, both ways', (t) =>
  withTwoMachines(t, async (n) => {
    const a = await n.peer(n.m1);
    const b = await n.peer(n.m2);
    const sa = await bound(a, 5000);
    const sb = await bound(b, 6000);
    const big = new Uint8Array(20000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 9)) & 0xff;
    t.deepEqual(await a.api.send(sa, big, 6000, '10.1.0.2'), { bytes: 20000 });
    t.true(await eventually(async () => (await b.api.messages(sb)).length === 1));
    const [m] = await b.api.messages(sb);
    t.deepEqual(m!.data, big);
    t.is(m!.rinfo.size, 20000);
    const back = big.map((x) => x ^ 0x5a);
    t.deepEqual(await b.api.send(sb, back, 5000, '10.1.0.1'), { bytes: 20000 });
    t.true(await eventually(async () => (await a.api.messages(sa)).length === 1));
    t.deepEqual((await a.api.messages(sa))[0]!.data, back);
    const sta = (await a.api.stats()).stack;
    const stb = (await b.api.stats()).stack;
    t.like(sta.tx, { fragmented: 1 });
    t.like(stb.rx, { reassembled: 1, held: 13 });
    t.like(sta.rx, { reassembled: 1, held: 13 });
    // Every fragment went out: the later ones through netd's later-fragment transmit filter.
    const link = (await a.api.stats()).link;
    t.true(link.txOk >= 14);
    t.deepEqual(link.txFailed, {});
    const drv = (await n.m1.m.driver.api.statistics()) as {
      clients: { txRefused: number; txTooLong: number }[];
    };
    t.true(drv.clients.every((c) => c.txRefused === 0 && c.txTooLong === 0));
  }),
);

test.serial(
  'ICMP port unreachable from the other machine: an error (ECONNREFUSED) on a connected socket, an icmp event on any',
  (t) =>
    withTwoMachines(t, async (n) => {
      const a = await n.peer(n.m1);
      const loose = await bound(a);
      t.deepEqual(await a.api.send(loose, 'anyone?', 7777, '10.1.0.2'), { bytes: 7 });
      t.true(await eventually(async () => (await a.api.events(loose)).some((e) => e.event === 'icmp')));
      t.false(
        (await a.api.events(loose)).some((e) => e.event === 'error'),
        'not connected: no error',
      );
      const conn = await a.api.create();
      t.deepEqual(await a.api.connect(conn, 7777, '10.1.0.2'), { ok: true });
      t.deepEqual(await a.api.send(conn, 'anyone?'), { bytes: 7 });
      t.true(await eventually(async () => (await a.api.events(conn)).some((e) => e.event === 'error')));
      const err = (await a.api.events(conn)).find((e) => e.event === 'error');
      t.deepEqual(err, {
        event: 'error',
        error: {
          name: 'Error',
          code: 'ECONNREFUSED',
          errno: -111,
          syscall: 'recvmsg',
          message: 'recvmsg ECONNREFUSED',
        },
      });
      t.is(await n.m2.netd.unreachableSent(), 2);
      t.is((await a.api.stats()).udp.icmpErrors, 2);
    }),
);

test.serial(
  'ports: EADDRINUSE for a port another actor holds; EACCES below 1024 without the netd-priv grant, bound with it; close and death give ports back',
  (t) =>
    withTwoMachines(t, async (n) => {
      const c = await n.peer(n.m1);
      const d = await n.peer(n.m1);
      const sc = await bound(c, 5555);
      const sd = await d.api.create();
      t.deepEqual(await d.api.bindTo(sd, 5555), {
        error: {
          name: 'Error',
          code: 'EADDRINUSE',
          errno: -98,
          syscall: 'bind',
          message: 'bind EADDRINUSE 0.0.0.0:5555',
          address: '0.0.0.0',
          port: 5555,
        },
      });
      // The same socket may try again, elsewhere.
      t.deepEqual(await d.api.bindTo(sd, 5556), { ok: true });
      // Two sockets of one actor: the second is refused without asking netd.
      const sd2 = await d.api.create();
      t.like(await d.api.bindTo(sd2, 5556), { error: { code: 'EADDRINUSE' } });
      const s53 = await d.api.create();
      t.like(await d.api.bindTo(s53, 53), { error: { code: 'EACCES', message: 'bind EACCES 0.0.0.0:53' } });
      const p = await n.peer(n.m1, { priv: true });
      const sp = await bound(p, 53);
      t.deepEqual(await p.api.address(sp), { address: '0.0.0.0', family: 'IPv4', port: 53 });
      t.true((await n.m1.netd.ports()).some((x) => x.port === 53));
      // A port from netd's ephemeral range when none is asked for.
      const eph = await bound(d);
      t.true((await d.api.address(eph)).port >= 49152);
      // close() gives the port back: netd sees close_port, and another actor may take it.
      await p.api.close(sp);
      t.true(await eventually(async () => !(await n.m1.netd.ports()).some((x) => x.port === 53)));
      await c.api.close(sc);
      t.true(await eventually(async () => !(await n.m1.netd.ports()).some((x) => x.port === 5555)));
      t.deepEqual(await d.api.bindTo(sd2, 5555), { ok: true });
      // An actor's death gives its ports back too.
      await d.kill();
      t.true(await eventually(async () => !(await n.m1.netd.ports()).some((x) => x.port === 5556)));
      t.false((await n.m1.netd.ports()).some((x) => x.port === 5555 || x.port === 5556));
    }),
);

// The real netd changes its address only with a DHCP lease (test/netd/dhcp.test.ts);
// netd-lite changes it on demand.
test.serial("netd's ip_changed: the stack sends from its new address and is reached at it", (t) =>
  withTwoMachines(
    t,
    async (n) => {
      const a = await n.peer(n.m1);
      const b = await n.peer(n.m2);
      const sa = await bound(a, 5000);
      const sb = await bound(b, 6000);
      await n.m1.netd.lite!.api.setIp('10.1.0.11', '10.1.0.254', '255.255.255.0');
      t.true(await eventually(async () => (await a.api.stats()).stack.address.ip === '10.1.0.11'));
      t.deepEqual(await a.api.send(sa, 'from my new address', 6000, '10.1.0.2'), { bytes: 19 });
      t.true(await eventually(async () => (await b.api.messages(sb)).length === 1));
      t.is((await b.api.messages(sb))[0]!.rinfo.address, '10.1.0.11');
      t.deepEqual(await b.api.send(sb, 'to it', 5000, '10.1.0.11'), { bytes: 5 });
      t.true(await eventually(async () => (await a.api.messages(sa)).length === 1));
    },
    { lite: {} },
  ),
);

test.serial(
  'a hostile peer on the wire: bad checksums, truncated and bad-IHL datagrams, oversized fragments: counted, not thrown',
  (t) =>
    withTwoMachines(t, async (n) => {
      const a = await n.peer(n.m1);
      const sa = await bound(a, 5000);
      const mac = n.m1.m.mac;
      const udp = (payload: string, ipOptions?: Uint8Array) =>
        udpFrame({
          dstMac: mac,
          srcMac: TAP_MAC,
          src: TAP_IP,
          dst: IP1,
          srcPort: 4000,
          dstPort: 5000,
          payload: Buffer.from(payload),
          ipOptions,
        });
      const frames: Uint8Array[] = [];
      frames.push(udp('good 1'));
      const badUdp = udp('bad udp checksum');
      badUdp[badUdp.length - 1] ^= 1;
      frames.push(badUdp);
      const badIp = udp('bad ip checksum');
      badIp[24] ^= 0x40;
      frames.push(badIp);
      const truncated = udp('truncated: the IP length says more than the frame has');
      truncated[16] = 0x05; // total length 1300+
      frames.push(truncated);
      // IHL 15 (60 bytes of header) with a total length of 40: no such datagram.
      const badIhl = new Uint8Array(14 + 60 + 8 + 8);
      badIhl.set(udp('x').subarray(0, 14));
      badIhl[14] = 0x4f;
      badIhl[16] = 0;
      badIhl[17] = 40;
      badIhl[23] = 17;
      badIhl.set([10, 1, 0, 99, 10, 1, 0, 1], 26);
      badIhl.set([0x0f, 0xa0, 0x13, 0x88, 0, 8, 0, 0], 74);
      frames.push(badIhl);
      // IHL 4: the driver drops it before any filter looks.
      const ihl4 = udp('ihl 4');
      ihl4[14] = 0x44;
      frames.push(ihl4);
      // IP options (a no-op and end of options): a real datagram, taken.
      frames.push(udp('with options', new Uint8Array([1, 1, 1, 0])));
      // A first fragment for port 5000, then one that would end past 65,535 bytes (the driver drops the datagram).
      const payload = new Uint8Array(64).fill(7);
      const segment = udpFrame({
        dstMac: mac,
        srcMac: TAP_MAC,
        src: TAP_IP,
        dst: IP1,
        srcPort: 4000,
        dstPort: 5000,
        payload,
      }).subarray(34);
      frames.push(
        ipv4Frame({
          dstMac: mac,
          srcMac: TAP_MAC,
          src: TAP_IP,
          dst: IP1,
          protocol: 17,
          payload: segment.subarray(0, 48),
          id: 99,
          moreFragments: true,
        }),
      );
      frames.push(
        ipv4Frame({
          dstMac: mac,
          srcMac: TAP_MAC,
          src: TAP_IP,
          dst: IP1,
          protocol: 17,
          payload: new Uint8Array(64),
          id: 99,
          fragmentOffset: 65528 - 8,
        }),
      );
      frames.push(udp('good 2'));
      for (const f of frames) n.wire.send(f);
      t.true(await eventually(async () => (await a.api.messages(sa)).length === 3));
      t.deepEqual(
        (await a.api.messages(sa)).map((m) => text(m.data)),
        ['good 1', 'with options', 'good 2'],
      );
      const st = (await a.api.stats()).stack;
      t.like(st.dropped, { 'udp-bad-checksum': 1, 'ip-bad-checksum': 1, 'ip-bad-total-length': 2 });
      // The oversized datagram never reached the client: the driver dropped it whole.
      const drv = (await n.m1.m.driver.api.statistics()) as {
        fragments: { dropped: Record<string, number> };
        rx: { dropped: { badIpHeader: number } };
      };
      t.true(Object.values(drv.fragments.dropped).reduce((x, y) => x + y, 0) >= 1);
      t.is(drv.rx.dropped.badIpHeader, 1);
      // An ARP reply nobody asked for teaches the stack nothing.
      n.wire.send(
        arpFrame({
          dstMac: BROADCAST_MAC,
          srcMac: TAP_MAC,
          op: ArpOp.REPLY,
          senderMac: TAP_MAC,
          senderIp: TAP_IP,
          targetMac: 0 as Mac,
          targetIp: IP1,
        }),
      );
      t.true(await eventually(async () => (await a.api.stats()).stack.arp.ignored.unsolicited === 1));
      t.is(await a.api.neighbour(TAP_IP), undefined);
    }),
);
