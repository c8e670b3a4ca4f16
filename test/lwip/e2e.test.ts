// The client stack end to end: application actors on two machines (each an emulated
// e1000, its driver, a netd-lite) talk UDP over the virtual switch through lib/lwip:
// ARP resolved through the driver's replication, datagrams both ways, broadcast,
// fragments, ICMP errors, ports and their release, an address that changes, and a
// hostile peer's frames.
import test from 'ava';
import { ArpOp, arpFrame, BROADCAST_MAC, type Mac, readU32, udpFrame } from '../../lib/net/index.ts';
import { eventually, IP1, IP2, type Peer, TAP_IP, TAP_MAC, withTwoMachines } from './network.ts';

const text = (d: Uint8Array) => Buffer.from(d).toString();

async function bound(p: Peer, port?: number, address?: string): Promise<number> {
  const id = await p.api.create();
  const r = await p.api.bindTo(id, port, address);
  if (!('ok' in r)) throw new Error(`bind failed: ${JSON.stringify(r)}`);
  return id;
}

test('UDP both ways between two machines; ARP resolved through the driver copying ARP to every client', (t) =>
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
    t.is(sta.arp.requestsSent, 1);
    t.is(stb.arp.requestsSent, 0, 'b learned a from the request the driver copied to it');
    t.like(await a.api.neighbour(IP2), { state: 'reachable', mac: n.m2.m.mac });
    t.like(await n.m2.netd.api.stats(), { arpAnswered: 1 });
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
  }));
