// The DHCP client against the DHCP server on a simulated segment (real frames, virtual
// time, seeded loss): acquiring, loss, NAK, an address conflict, renewal at T1,
// rebinding at T2 with the server gone, expiry, and no server at all.
import test from 'ava';
import { DhcpClient, type DhcpClientConfig } from '../../lib/dhcp/client.ts';
import { SeededPrng } from '../../lib/dhcp/prng.ts';
import { DhcpServer, type DhcpServerConfig } from '../../lib/dhcp/server.ts';
import { formatIpv4, type Ipv4Addr, ipv4, type Mac, mac } from '../../lib/net/index.ts';
import { DhcpNet, type SimClient } from '../helpers/dhcp-net.ts';

const S = 1000;
const SERVER_CFG: DhcpServerConfig = {
  serverId: ipv4('10.0.0.1'),
  subnetMask: ipv4('255.255.255.0'),
  poolStart: ipv4('10.0.0.100'),
  poolEnd: ipv4('10.0.0.199'),
  routers: [ipv4('10.0.0.1')],
  dns: [ipv4('10.0.0.53')],
  leaseSeconds: 600,
};

function client(net: DhcpNet, n: number, seed: number, extra: Partial<DhcpClientConfig> = {}): SimClient {
  const m = mac(`02:00:00:00:01:${n.toString(16).padStart(2, '0')}`) as Mac;
  return net.addClient(`client${n}`, new DhcpClient({ mac: m, random: new SeededPrng(seed), ...extra }), m);
}

const inPool = (a: Ipv4Addr) => a >= SERVER_CFG.poolStart && a <= SERVER_CFG.poolEnd;

test('a client gets a lease: address from the pool, mask, router, DNS, T1 and T2 from the server', (t) => {
  const net = new DhcpNet(1);
  const srv = net.addServer('server', '02:00:00:00:00:01', new DhcpServer(SERVER_CFG));
  const c = client(net, 1, 11);
  net.start(c);
  t.true(
    net.runUntilTrue(() => c.lease !== undefined, 30 * S),
    JSON.stringify(net.log),
  );
  const l = c.lease!;
  t.true(inPool(l.address));
  t.is(formatIpv4(l.mask), '255.255.255.0');
  t.is(l.router, ipv4('10.0.0.1'));
  t.deepEqual(l.dns, [ipv4('10.0.0.53')]);
  t.is(l.server, SERVER_CFG.serverId);
  t.is(l.leaseSeconds, 600);
  t.is(l.t1At - l.obtainedAt, 300 * S);
  t.is(l.t2At - l.obtainedAt, 525 * S);
  t.is(l.expiresAt - l.obtainedAt, 600 * S);
  t.deepEqual(
    c.sent.map((s) => s.type),
    ['DISCOVER', 'REQUEST'],
  );
  t.deepEqual(c.probes, [{ at: c.probes[0]!.at, address: l.address }], 'the address was probed before use');
  t.is(c.bound[0]!.at - c.probes[0]!.at, net.probeMs, 'bound only once the probe came back');
  t.like(srv.server.leaseOf(l.address, net.now), { state: 'bound', client: `id:01${'020000000101'}` });
  t.is(c.client.state, 'BOUND');
});

test('over a lossy wire (25% of frames lost, 20 seeds) every client still gets a lease, retransmitting', (t) => {
  let retransmitted = 0;
  let lost = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const net = new DhcpNet(seed, 0.25);
    net.addServer('server', '02:00:00:00:00:01', new DhcpServer(SERVER_CFG));
    const cs = [1, 2, 3].map((n) => client(net, n, seed * 10 + n, { acquireTimeoutMs: 600 * S }));
    for (const c of cs) net.start(c);
    const ok = net.runUntilTrue(() => cs.every((c) => c.lease), 600 * S);
    t.true(ok, `seed ${seed}: ${cs.map((c) => `${c.name} ${c.client.state}`).join(', ')}`);
    t.is(new Set(cs.map((c) => c.lease!.address)).size, 3, `seed ${seed}: three different addresses`);
    retransmitted += cs.reduce((n, c) => n + c.client.stats.retransmissions, 0);
    lost += net.framesLost;
  }
  t.true(lost > 30, `frames lost: ${lost}`);
  t.true(retransmitted > 20, `retransmissions: ${retransmitted}`);
});

test('an address taken by another host: the probe finds it, DECLINE, wait 10 s, another address', (t) => {
  const net = new DhcpNet(2);
  const srv = net.addServer('server', '02:00:00:00:00:01', new DhcpServer(SERVER_CFG));
  net.taken.add(SERVER_CFG.poolStart); // the server's first choice is squatted on
  const c = client(net, 1, 12);
  net.start(c);
  t.true(net.runUntilTrue(() => c.lease !== undefined, 60 * S));
  t.not(c.lease!.address, SERVER_CFG.poolStart);
  t.deepEqual(
    c.sent.map((s) => s.type),
    ['DISCOVER', 'REQUEST', 'DECLINE', 'DISCOVER', 'REQUEST'],
  );
  const decline = c.sent[2]!;
  const again = c.sent[3]!;
  t.true(decline.broadcast);
  t.true(again.at - decline.at >= 10 * S, 'waited before starting again');
  t.is(c.client.stats.declines, 1);
  t.is(srv.server.stats.declines, 1);
  t.like(srv.server.leaseOf(SERVER_CFG.poolStart, net.now), { state: 'declined', client: '' });
  t.is(c.probes.length, 2);
});

test('renewal at T1: a unicast REQUEST to the server, the lease extended, nothing lost', (t) => {
  const net = new DhcpNet(3);
  const srv = net.addServer('server', '02:00:00:00:00:01', new DhcpServer(SERVER_CFG));
  const c = client(net, 1, 13);
  net.start(c);
  net.runUntil(10 * S);
  const first = c.lease!;
  net.runUntil(first.t1At + 5 * S);
  t.is(c.client.state, 'BOUND');
  t.is(c.lost.length, 0);
  const renew = c.sent.find((s) => s.at >= first.t1At)!;
  t.like(renew, { type: 'REQUEST', src: first.address, dst: SERVER_CFG.serverId, broadcast: false });
  t.is(renew.at, first.t1At, 'sent at T1 exactly');
  t.is(c.bound.length, 2);
  t.true(c.bound[1]!.renewed);
  t.is(c.lease!.address, first.address);
  t.is(c.lease!.expiresAt, renew.at + 600 * S, 'the renewed lease counts from the renewing REQUEST');
  t.like(srv.server.leaseOf(first.address, net.now), { state: 'bound', until: renew.at + 1 + 600 * S });
  // A day on: renewed every T1, never lost.
  net.runUntil(24 * 3600 * S);
  t.is(c.lost.length, 0);
  t.true(c.bound.length > 100);
});

test('rebinding at T2 when the server is gone: broadcast REQUESTs; another server that answers keeps the address', (t) => {
  const net = new DhcpNet(4);
  const first = net.addServer('server1', '02:00:00:00:00:01', new DhcpServer(SERVER_CFG));
  const c = client(net, 1, 14);
  net.start(c);
  net.runUntil(10 * S);
  const l = c.lease!;
  first.up = false;
  net.runUntil(l.t2At - 1);
  t.is(c.client.state, 'RENEWING');
  const renewing = c.sent.filter((s) => s.at >= l.t1At);
  t.true(renewing.length >= 2, 'RENEWING retransmits');
  t.true(renewing.every((s) => !s.broadcast && s.dst === SERVER_CFG.serverId));
  // RFC 2131 4.4.5: the second try after half the time left to T2 (here 112.5 s), not under 60 s.
  t.is(renewing[1]!.at - renewing[0]!.at, (l.t2At - l.t1At) / 2);
  // A second server on the segment (a failover peer with the same pool) will answer broadcasts.
  const second = net.addServer(
    'server2',
    '02:00:00:00:00:02',
    new DhcpServer({ ...SERVER_CFG, serverId: ipv4('10.0.0.2') }),
  );
  net.runUntil(l.t2At + 5 * S);
  const rebind = c.sent.find((s) => s.at >= l.t2At)!;
  t.like(rebind, { type: 'REQUEST', src: l.address, broadcast: true, at: l.t2At });
  t.is(c.client.state, 'BOUND');
  t.is(c.lease!.address, l.address, 'the same address');
  t.is(c.lease!.server, ipv4('10.0.0.2'), 'renewals now go to the server that answered');
  t.is(c.lost.length, 0);
  t.like(second.server.leaseOf(l.address, net.now), { state: 'bound' });
});

test('the server gone for good: RENEWING, REBINDING, expiry (address dropped), then the clear error at the limit', (t) => {
  const net = new DhcpNet(5);
  const srv = net.addServer('server', '02:00:00:00:00:01', new DhcpServer(SERVER_CFG));
  const c = client(net, 1, 15, { acquireTimeoutMs: 45 * S });
  net.start(c);
  net.runUntil(10 * S);
  const l = c.lease!;
  srv.up = false;
  net.runUntil(l.expiresAt - 1);
  t.is(c.client.state, 'REBINDING');
  t.is(c.lost.length, 0);
  net.runUntil(l.expiresAt);
  t.deepEqual(
    c.lost.map((x) => [x.at, x.reason]),
    [[l.expiresAt, 'expired']],
  );
  t.is(c.lease, undefined);
  const after = c.sent.filter((s) => s.at >= l.expiresAt);
  t.like(after[0], { type: 'DISCOVER', at: l.expiresAt, src: 0 });
  net.runUntil(l.expiresAt + 60 * S);
  t.is(c.failed.length, 1);
  t.like(c.failed[0], { at: l.expiresAt + 45 * S, name: 'DHCP_ERR_NO_SERVER' });
  t.regex(
    c.failed[0]!.message,
    /^DHCP_ERR_NO_SERVER: No DHCP server answered within the time limit \(client 02:00:00:00:01:01, limit 45000 ms: \d+ DISCOVER\(s\) sent, not one answered\)$/,
  );
  t.is(c.client.state, 'FAILED');
  t.is(c.timerAt, Infinity, 'no timer left armed');
});

test('no server at all: DISCOVERs back off 4, 8, 16, 32, 64, 64 s (±1 s), then DHCP_ERR_NO_SERVER at the limit', (t) => {
  const net = new DhcpNet(6);
  const c = client(net, 1, 16, { acquireTimeoutMs: 200 * S });
  net.start(c);
  net.runUntil(400 * S);
  const at = c.sent.map((s) => s.at);
  t.true(c.sent.every((s) => s.type === 'DISCOVER' && s.broadcast));
  const gaps = at.slice(1).map((x, i) => x - at[i]!);
  const want = [4, 8, 16, 32, 64, 64].map((s) => s * S);
  for (const [i, g] of gaps.entries()) {
    const w = want[Math.min(i, want.length - 1)]!;
    t.true(g >= w - S && g <= w + S, `gap ${i}: ${g} ms, want ${w} ± 1000`);
  }
  t.true(new Set(gaps.map((g, i) => g - want[Math.min(i, 5)]!)).size > 1, 'the jitter varies');
  t.deepEqual(
    c.failed.map((f) => [f.at, f.name]),
    [[200 * S, 'DHCP_ERR_NO_SERVER']],
  );
  t.is(c.sent.filter((s) => s.at > 200 * S).length, 0, 'silent after giving up');
  // The same seed gives the same run.
  const again = new DhcpNet(6);
  const c2 = client(again, 1, 16, { acquireTimeoutMs: 200 * S });
  again.start(c2);
  again.runUntil(400 * S);
  t.deepEqual(
    c2.sent.map((s) => s.at),
    at,
  );
});

test('a NAK on renewal (the server restarted and gave the address away): lease lost, INIT, a new address', (t) => {
  const net = new DhcpNet(7);
  const before = net.addServer('server', '02:00:00:00:00:01', new DhcpServer(SERVER_CFG));
  const a = client(net, 1, 17);
  net.start(a);
  net.runUntil(10 * S);
  const l = a.lease!;
  t.is(l.address, SERVER_CFG.poolStart);
  // The server restarts without its lease database, and gives the same first address to b.
  before.up = false;
  const after = net.addServer('server', '02:00:00:00:00:01', new DhcpServer(SERVER_CFG));
  const b = client(net, 2, 18);
  net.start(b);
  net.runUntil(20 * S);
  t.is(b.lease?.address, l.address);
  // At T1 a renews with the restarted server, which knows the address as b's.
  net.runUntil(l.t1At + 30 * S);
  t.deepEqual(
    a.lost.map((x) => [x.at, x.reason]),
    [[l.t1At + 2, 'nak']],
  );
  t.regex(a.lost[0]!.detail, /NAK from 10\.0\.0\.1: 10\.0\.0\.100 belongs to another client/);
  t.is(a.client.state, 'BOUND');
  t.truthy(a.lease);
  t.not(a.lease!.address, l.address, 'a new address');
  t.is(b.lease?.address, l.address, 'b keeps its own');
  t.is(after.server.stats.naks, 1);
  t.is(a.client.stats.naks, 1);
});

test('a restarted client asks for its old address back (INIT-REBOOT) and gets it in one exchange', (t) => {
  const net = new DhcpNet(8);
  net.addServer('server', '02:00:00:00:00:01', new DhcpServer(SERVER_CFG));
  const a = client(net, 1, 21);
  net.start(a);
  net.runUntil(10 * S);
  const l = a.lease!;
  net.act(a, a.client.stop());
  t.deepEqual(
    a.lost.map((x) => x.reason),
    ['stopped'],
  );
  const again = client(net, 1, 22); // the same MAC, a fresh client
  net.start(again, { previous: l.address });
  net.runUntil(20 * S);
  t.deepEqual(
    again.sent.map((s) => s.type),
    ['REQUEST'],
  );
  t.is(again.lease?.address, l.address);
});

test('every address in use (ARP probes all answered): declines until the limit, then DHCP_ERR_NO_LEASE naming why', (t) => {
  const net = new DhcpNet(9);
  net.addServer(
    'server',
    '02:00:00:00:00:01',
    new DhcpServer({ ...SERVER_CFG, poolStart: ipv4('10.0.0.100'), poolEnd: ipv4('10.0.0.102') }),
  );
  for (const x of ['10.0.0.100', '10.0.0.101', '10.0.0.102']) net.taken.add(ipv4(x));
  const c = client(net, 1, 23, { acquireTimeoutMs: 90 * S });
  net.start(c);
  net.runUntil(120 * S);
  t.is(c.client.stats.declines, 3, 'each address declined once, then the pool is quarantined');
  t.deepEqual(
    c.failed.map((f) => [f.at, f.name]),
    [[90 * S, 'DHCP_ERR_NO_LEASE']],
  );
  t.regex(c.failed[0]!.message, /0 NAK\(s\), 3 address\(es\) declined as in use/);
});

test('pool exhausted: the client left over gets no OFFER (counted), and one as soon as an address is released', (t) => {
  const net = new DhcpNet(10);
  const srv = net.addServer(
    'server',
    '02:00:00:00:00:01',
    new DhcpServer({ ...SERVER_CFG, poolStart: ipv4('10.0.0.100'), poolEnd: ipv4('10.0.0.101') }),
  );
  const cs = [1, 2, 3].map((n) => client(net, n, 30 + n, { acquireTimeoutMs: Infinity }));
  for (const c of cs) net.start(c);
  net.runUntil(60 * S);
  t.is(cs.filter((c) => c.lease).length, 2);
  const left = cs.find((c) => !c.lease)!;
  t.is(left.client.state, 'SELECTING');
  t.true(srv.server.stats.exhausted >= 3);
  const leaver = cs.find((c) => c.lease)!;
  const freed = leaver.lease!.address;
  net.act(leaver, leaver.client.release(net.now));
  t.like(leaver.sent.at(-1), { type: 'RELEASE', dst: SERVER_CFG.serverId, broadcast: false });
  net.runUntil(200 * S);
  t.is(left.lease?.address, freed, 'the released address goes to the client that waited');
});
