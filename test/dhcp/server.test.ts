// The DHCP server on its own: offers and their hold, each kind of REQUEST, NAK reasons,
// DECLINE, RELEASE, expiry, exhaustion, where replies go, and hostile requests.
import test from 'ava';
import fc from 'fast-check';
import { DhcpServer, type DhcpServerConfig, type DhcpServerReply } from '../../lib/dhcp/server.ts';
import {
  BROADCAST_MAC,
  buildDhcp,
  type DhcpFields,
  DhcpMessage,
  DhcpMessageType,
  DhcpOp,
  ethernetClientId,
  INFINITE_LEASE,
  IPV4_ANY,
  type Ipv4Addr,
  ipv4,
  type Mac,
  mac,
} from '../../lib/net/index.ts';
import { FishnetError } from '../../protocols/errors.ts';

const S = 1000;
const CFG: DhcpServerConfig = {
  serverId: ipv4('10.0.0.1'),
  subnetMask: ipv4('255.255.255.0'),
  poolStart: ipv4('10.0.0.100'),
  poolEnd: ipv4('10.0.0.109'),
  routers: [ipv4('10.0.0.1')],
  dns: [ipv4('10.0.0.53')],
  leaseSeconds: 600,
  maxLeaseSeconds: 3600,
};
const A = mac('02:00:00:00:00:0a');
const B = mac('02:00:00:00:00:0b');
const P0 = CFG.poolStart;
const P1 = (CFG.poolStart + 1) as Ipv4Addr;

function msg(f: Partial<DhcpFields> & { chaddr: Mac | Uint8Array }): DhcpMessage {
  const m = new DhcpMessage();
  const why = m.attach(buildDhcp({ op: DhcpOp.BOOTREQUEST, xid: 77, ...f }));
  if (why) throw new Error(why);
  return m;
}

const discover = (c: Mac, f: Partial<DhcpFields> = {}) =>
  msg({ chaddr: c, messageType: DhcpMessageType.DISCOVER, broadcast: true, ...f });
const select = (c: Mac, addr: Ipv4Addr, f: Partial<DhcpFields> = {}) =>
  msg({
    chaddr: c,
    messageType: DhcpMessageType.REQUEST,
    broadcast: true,
    serverId: CFG.serverId,
    requestedIp: addr,
    ...f,
  });
const renew = (c: Mac, addr: Ipv4Addr, f: Partial<DhcpFields> = {}) =>
  msg({ chaddr: c, messageType: DhcpMessageType.REQUEST, ciaddr: addr, ...f });

function parse(r: DhcpServerReply | undefined): DhcpMessage {
  if (!r) throw new Error('no reply');
  const m = new DhcpMessage();
  const why = m.attach(r.message);
  if (why) throw new Error(why);
  return m;
}

/** Lease `c` an address through DISCOVER and REQUEST at `now`; returns it. */
function lease(s: DhcpServer, c: Mac, now: number, f: Partial<DhcpFields> = {}): Ipv4Addr {
  const offered = parse(s.receive(discover(c, f), now)).yiaddr;
  const ack = parse(s.receive(select(c, offered, f), now));
  if (ack.messageType !== DhcpMessageType.ACK) throw new Error('not ACKed');
  return offered;
}

test("DISCOVER: an OFFER with the pool's first address and the whole configuration; REQUEST: the ACK", (t) => {
  const s = new DhcpServer(CFG);
  const r = s.receive(discover(A, { xid: 0xdeadbeef }), 0);
  t.like(r, { type: DhcpMessageType.OFFER, dst: 0xffff_ffff, dstPort: 68, dstMac: BROADCAST_MAC });
  const o = parse(r);
  t.is(o.op, DhcpOp.BOOTREPLY);
  t.is(o.xid, 0xdeadbeef);
  t.is(o.chaddr, A);
  t.true(o.broadcast);
  t.is(o.yiaddr, P0);
  t.is(o.ciaddr, IPV4_ANY);
  t.is(o.messageType, DhcpMessageType.OFFER);
  t.is(o.serverId, CFG.serverId);
  t.is(o.leaseTime, 600);
  t.is(o.renewalTime, 300);
  t.is(o.rebindingTime, 525);
  t.is(o.subnetMask, CFG.subnetMask);
  t.deepEqual(o.routers(), [...CFG.routers!]);
  t.deepEqual(o.dnsServers(), [...CFG.dns!]);
  t.like(s.leaseOf(P0, 0), { state: 'offered', until: 30 * S, client: 'hw:1:02000000000a' });
  const ack = parse(s.receive(select(A, P0), 1 * S));
  t.is(ack.messageType, DhcpMessageType.ACK);
  t.is(ack.yiaddr, P0);
  t.like(s.leaseOf(P0, 1 * S), { state: 'bound', until: 601 * S });
  t.like(s.stats, { offers: 1, acks: 1, naks: 0, received: { DISCOVER: 1, REQUEST: 1 } });
});

test('an offer is held for its client: others get other addresses; once it lapses it is free again', (t) => {
  const s = new DhcpServer({ ...CFG, poolEnd: P1 });
  t.is(parse(s.receive(discover(A), 0)).yiaddr, P0);
  t.is(parse(s.receive(discover(B), 1)).yiaddr, P1);
  t.is(parse(s.receive(discover(A), 2)).yiaddr, P0, 'the same client is offered the same address again');
  const C = mac('02:00:00:00:00:0c');
  t.is(s.receive(discover(C), 3), undefined, 'both held: nothing to offer');
  t.is(s.stats.exhausted, 1);
  // Both offers lapse after the 30 s hold; the one that lapsed first goes first.
  t.is(parse(s.receive(discover(C), 31 * S)).yiaddr, P1);
  t.is(parse(s.receive(discover(A), 32 * S)).yiaddr, P0, 'A, back late, still finds its own');
});

test('REQUEST naming another server: our offer is withdrawn, no reply', (t) => {
  const s = new DhcpServer({ ...CFG, poolEnd: P0 });
  s.receive(discover(A), 0);
  t.is(s.receive(select(A, P0, { serverId: ipv4('10.0.0.2') }), 1), undefined);
  t.is(s.stats.dropped['other-server'], 1);
  t.like(s.leaseOf(P0, 1), { state: 'free', client: 'hw:1:02000000000a' });
  t.is(parse(s.receive(discover(B), 2)).yiaddr, P0, 'free for another client at once');
});

test('REQUEST in SELECTING for an address not offered to this client: a NAK saying so, broadcast', (t) => {
  const s = new DhcpServer(CFG);
  s.receive(discover(A), 0);
  const r = s.receive(select(B, P0), 1);
  t.like(r, { type: DhcpMessageType.NAK, dst: 0xffff_ffff, dstMac: BROADCAST_MAC });
  const nak = parse(r);
  t.is(nak.messageType, DhcpMessageType.NAK);
  t.is(nak.yiaddr, IPV4_ANY);
  t.is(nak.serverId, CFG.serverId);
  t.is(nak.message, '10.0.0.100 was not offered to this client');
  t.is(nak.leaseTime, undefined);
  t.is(nak.subnetMask, undefined);
  t.is(parse(s.receive(select(A, P1), 2)).message, '10.0.0.101 was not offered to this client');
  t.is(s.stats.naks, 2);
  t.is(s.receive(select(A, P0, { ciaddr: P0 }), 3), undefined, 'SELECTING with a ciaddr is malformed');
  t.is(s.receive(select(A, P0, { requestedIp: undefined }), 3), undefined, 'and so is one without option 50');
  t.is(s.stats.dropped['bad-request'], 2);
});

test("INIT-REBOOT: own address ACKed; another client's NAKed; another network NAKed; unknown client: silence", (t) => {
  const s = new DhcpServer(CFG);
  const a = lease(s, A, 0);
  const reboot = (c: Mac, addr: Ipv4Addr) =>
    msg({ chaddr: c, messageType: DhcpMessageType.REQUEST, requestedIp: addr, broadcast: true });
  t.is(parse(s.receive(reboot(A, a), 10 * S)).messageType, DhcpMessageType.ACK);
  lease(s, B, 11 * S);
  t.is(parse(s.receive(reboot(B, a), 12 * S)).message, '10.0.0.100 belongs to another client');
  t.is(
    parse(s.receive(reboot(A, ipv4('192.168.1.5')), 13 * S)).message,
    '192.168.1.5 is not on this network',
  );
  t.is(parse(s.receive(reboot(A, P1), 13 * S)).message, '10.0.0.101 belongs to another client');
  const C = mac('02:00:00:00:00:0c');
  t.is(s.receive(reboot(C, ipv4('10.0.0.150')), 14 * S), undefined);
  t.is(s.stats.dropped['unknown-client'], 1);
});

test('RENEWING and REBINDING extend the lease; the reply is unicast to ciaddr; a forgotten lease is granted again', (t) => {
  const s = new DhcpServer(CFG);
  const a = lease(s, A, 0);
  const r = s.receive(renew(A, a), 300 * S);
  t.like(r, { type: DhcpMessageType.ACK, dst: a, dstPort: 68, dstMac: A });
  t.is(parse(r).ciaddr, a);
  t.like(s.leaseOf(a, 300 * S), { state: 'bound', until: 900 * S });
  // Past expiry but not yet given away: still the client's, renewed.
  t.is(parse(s.receive(renew(A, a), 1000 * S)).messageType, DhcpMessageType.ACK);
  // Someone else's address: NAK. An address outside the pool this server never gave: silence.
  const b = lease(s, B, 1001 * S);
  t.is(parse(s.receive(renew(A, b), 1002 * S)).message, '10.0.0.101 belongs to another client');
  t.is(s.receive(renew(A, ipv4('10.0.0.20')), 1003 * S), undefined);
  t.is(s.stats.dropped['unknown-address'], 1);
  t.is(parse(s.receive(renew(A, ipv4('10.9.0.20')), 1003 * S)).message, '10.9.0.20 is not on this network');
  // A restarted server knows nothing: a renewal of a free pool address is granted and recorded.
  const fresh = new DhcpServer(CFG);
  t.is(parse(fresh.receive(renew(A, a), 0)).messageType, DhcpMessageType.ACK);
  t.like(fresh.leaseOf(a, 0), { state: 'bound', client: 'hw:1:02000000000a' });
  t.is(parse(fresh.receive(discover(B), 1)).yiaddr, P0 === a ? P1 : P0, 'and not offered to anyone else');
});

test('leases expire by time: an expired address is given to a new client only when nothing fresh is left', (t) => {
  const s = new DhcpServer({ ...CFG, poolEnd: P1 });
  const a = lease(s, A, 0);
  const C = mac('02:00:00:00:00:0c');
  t.is(lease(s, B, 0), P1);
  t.is(s.receive(discover(C), 599 * S), undefined, 'both bound');
  t.like(s.leaseOf(a, 600 * S), { state: 'free', client: 'hw:1:02000000000a' });
  t.is(parse(s.receive(discover(C), 601 * S)).yiaddr, a, "A's lease ran out");
  t.is(s.addressOf('hw:1:02000000000a'), undefined, 'A is forgotten');
  t.is(s.stats.exhausted, 1);
});

test('the same client gets its previous address back after a RELEASE, even when others came between', (t) => {
  const s = new DhcpServer(CFG);
  const a = lease(s, A, 0);
  const rel = msg({ chaddr: A, messageType: DhcpMessageType.RELEASE, ciaddr: a, serverId: CFG.serverId });
  t.is(s.receive(rel, 10 * S), undefined);
  t.is(s.stats.releases, 1);
  t.like(s.leaseOf(a, 10 * S), { state: 'free' });
  const others = [1, 2, 3].map((i) => lease(s, mac(`02:00:00:00:01:0${i}`), 11 * S));
  t.false(others.includes(a), 'fresh addresses go to new clients first');
  t.is(lease(s, A, 12 * S), a);
  // A RELEASE of someone else's address is refused.
  const forged = msg({ chaddr: B, messageType: DhcpMessageType.RELEASE, ciaddr: a });
  t.is(s.receive(forged, 13 * S), undefined);
  t.is(s.stats.dropped['bad-release'], 1);
  t.like(s.leaseOf(a, 13 * S), { state: 'bound' });
});

test("the client identifier (option 61) is the client's key when present", (t) => {
  const s = new DhcpServer(CFG);
  const id = ethernetClientId(mac('02:00:00:00:99:99'));
  const a = lease(s, A, 0, { clientId: id });
  // The same identifier from another NIC is the same client; the NIC without it is not.
  t.is(parse(s.receive(discover(B, { clientId: id }), 1)).yiaddr, a);
  t.not(parse(s.receive(discover(A), 2)).yiaddr, a);
  t.is(s.addressOf('id:01020000009999'), a);
});

test('DECLINE: the address is quarantined, the client gets another; only the holder may decline', (t) => {
  const s = new DhcpServer({ ...CFG, poolEnd: P1, declineQuarantineMs: 60 * S });
  const a = lease(s, A, 0);
  const decline = (c: Mac, addr: Ipv4Addr) =>
    msg({ chaddr: c, messageType: DhcpMessageType.DECLINE, requestedIp: addr, serverId: CFG.serverId });
  t.is(s.receive(decline(B, a), 1), undefined);
  t.is(s.stats.dropped['bad-decline'], 1, 'B cannot evict A');
  t.like(s.leaseOf(a, 1), { state: 'bound' });
  t.is(s.receive(decline(A, a), 2), undefined);
  t.is(s.stats.declines, 1);
  t.like(s.leaseOf(a, 2), { state: 'declined', client: '', until: 60 * S + 2 });
  t.is(parse(s.receive(discover(A), 3)).yiaddr, P1, 'A is offered another address');
  t.is(s.receive(discover(B), 4), undefined, 'one quarantined, one held for A');
  // After the quarantine (and A's offer lapsing), B is given the formerly declined address:
  // nobody is remembered for it, while P1 is kept for A as long as possible.
  t.is(parse(s.receive(discover(B), 61 * S)).yiaddr, a);
  t.is(parse(s.receive(discover(A), 62 * S)).yiaddr, P1);
});

test('exhaustion: no OFFER and a count; a DISCOVER flood while exhausted costs no sweep per packet', (t) => {
  const s = new DhcpServer({ ...CFG, poolEnd: P1 });
  lease(s, A, 0);
  lease(s, B, 0);
  for (let i = 0; i < 1000; i++)
    t.is(
      s.receive(discover(mac(`02:00:00:01:${(i >> 8).toString(16)}:${(i & 255).toString(16)}`)), 1 + i),
      undefined,
    );
  t.is(s.stats.exhausted, 1000);
  t.true(s.stats.sweeps <= 1, `${s.stats.sweeps} sweeps`);
  t.is(s.leases(2000).length, 2, 'no record for a client that got nothing');
});

test('where replies go (RFC 2131 4.1): relay, broadcast bit, unicast to chaddr', (t) => {
  const s = new DhcpServer(CFG);
  const relay = ipv4('10.0.0.254');
  t.like(s.receive(discover(A, { giaddr: relay, broadcast: false }), 0), {
    dst: relay,
    dstPort: 67,
    dstMac: undefined,
  });
  t.like(s.receive(discover(B, { broadcast: false }), 0), { dst: P1, dstPort: 68, dstMac: B });
  const nakViaRelay = s.receive(select(B, P0, { giaddr: relay, broadcast: false }), 1);
  t.like(nakViaRelay, { type: DhcpMessageType.NAK, dst: relay, dstPort: 67 });
  t.true(parse(nakViaRelay).broadcast, 'the relay is asked to broadcast the NAK');
  t.is(s.receive(discover(A, { giaddr: ipv4('192.168.7.1') }), 2), undefined);
  t.is(s.stats.dropped['foreign-relay'], 1);
});

test('the lease asked for is granted within min..max', (t) => {
  const s = new DhcpServer({ ...CFG, minLeaseSeconds: 120 });
  const ask = (secs: number | undefined, c: Mac) =>
    parse(s.receive(discover(c, { leaseTime: secs }), 0)).leaseTime;
  t.is(ask(undefined, A), 600);
  t.is(ask(10, mac('02:00:00:00:01:01')), 120);
  t.is(ask(1800, mac('02:00:00:00:01:02')), 1800);
  t.is(ask(INFINITE_LEASE, mac('02:00:00:00:01:03')), 3600);
  const forever = new DhcpServer({ ...CFG, leaseSeconds: INFINITE_LEASE, maxLeaseSeconds: INFINITE_LEASE });
  const o = parse(forever.receive(discover(A), 0));
  t.is(o.leaseTime, INFINITE_LEASE);
  t.is(o.renewalTime, undefined, 'no T1/T2 for a lease that does not end');
  lease(forever, B, 0);
  t.like(forever.leaseOf(P1, 1e15), { state: 'bound' });
});

test('INFORM: configuration without a lease, unicast to ciaddr', (t) => {
  const s = new DhcpServer(CFG);
  const static_ = ipv4('10.0.0.20');
  const r = s.receive(msg({ chaddr: A, messageType: DhcpMessageType.INFORM, ciaddr: static_ }), 0);
  t.like(r, { type: DhcpMessageType.ACK, dst: static_ });
  const m = parse(r);
  t.is(m.yiaddr, IPV4_ANY);
  t.is(m.leaseTime, undefined);
  t.is(m.subnetMask, CFG.subnetMask);
  t.is(s.receive(msg({ chaddr: A, messageType: DhcpMessageType.INFORM }), 0), undefined);
  t.is(s.stats.dropped['bad-inform'], 1);
});

test('hostile requests are dropped and counted by cause', (t) => {
  const s = new DhcpServer(CFG);
  const cases: [DhcpMessage, string][] = [
    [msg({ op: DhcpOp.BOOTREPLY, chaddr: A, messageType: DhcpMessageType.DISCOVER }), 'not-a-request'],
    [msg({ htype: 6, chaddr: A, messageType: DhcpMessageType.DISCOVER }), 'bad-htype'],
    [msg({ chaddr: new Uint8Array(8).fill(2), messageType: DhcpMessageType.DISCOVER }), 'bad-hlen'],
    [msg({ chaddr: BROADCAST_MAC, messageType: DhcpMessageType.DISCOVER }), 'bad-chaddr'],
    [msg({ chaddr: mac('01:00:5e:00:00:01'), messageType: DhcpMessageType.DISCOVER }), 'bad-chaddr'],
    [msg({ chaddr: 0 as Mac, messageType: DhcpMessageType.DISCOVER }), 'bad-chaddr'],
    [msg({ chaddr: A }), 'no-type'],
    [msg({ chaddr: A, messageType: DhcpMessageType.OFFER }), 'bad-type'],
    [msg({ chaddr: A, messageType: DhcpMessageType.ACK }), 'bad-type'],
    [msg({ chaddr: A, messageType: 99 }), 'bad-type'],
    [msg({ chaddr: A, messageType: DhcpMessageType.REQUEST }), 'bad-request'],
  ];
  for (const [m, why] of cases) {
    t.is(s.receive(m, 0), undefined, why);
  }
  t.like(s.stats.dropped, {
    'not-a-request': 1,
    'bad-htype': 1,
    'bad-hlen': 1,
    'bad-chaddr': 3,
    'no-type': 1,
    'bad-type': 3,
    'bad-request': 1,
  });
  t.is(s.leases(0).length, 0);
});

test('fuzz: any sequence of requests from a few clients never throws, never gives one address to two clients', (t) => {
  const clients = [A, B, mac('02:00:00:00:00:0c'), mac('02:00:00:00:00:0d')];
  const addrs = [
    P0,
    P1,
    ipv4('10.0.0.102'),
    ipv4('10.0.0.1'),
    ipv4('10.0.0.255'),
    ipv4('10.1.0.5'),
    0 as Ipv4Addr,
  ];
  const req = fc.record({
    client: fc.nat(clients.length - 1),
    type: fc.integer({ min: 1, max: 9 }),
    requested: fc.option(fc.constantFrom(...addrs), { nil: undefined }),
    ciaddr: fc.constantFrom(...addrs),
    serverId: fc.option(fc.constantFrom(CFG.serverId, ipv4('10.0.0.2')), { nil: undefined }),
    lease: fc.option(fc.nat(5000), { nil: undefined }),
    dt: fc.nat(200 * S),
  });
  t.notThrows(() =>
    fc.assert(
      fc.property(fc.array(req, { minLength: 5, maxLength: 80 }), (rs) => {
        const s = new DhcpServer({ ...CFG, poolEnd: ipv4('10.0.0.102'), offerHoldMs: 20 * S });
        let now = 0;
        for (const r of rs) {
          now += r.dt;
          const reply = s.receive(
            msg({
              chaddr: clients[r.client]!,
              messageType: r.type,
              requestedIp: r.requested,
              ciaddr: r.ciaddr,
              serverId: r.serverId,
              leaseTime: r.lease,
            }),
            now,
          );
          if (reply) {
            const m = parse(reply);
            if (m.messageType === DhcpMessageType.ACK && m.yiaddr !== 0) {
              const l = s.leaseOf(m.yiaddr, now);
              if (l?.state !== 'bound' || l.address < CFG.poolStart || l.address > ipv4('10.0.0.102'))
                return false;
            }
          }
          // One address per held client, one held client per address.
          const held = s.leases(now).filter((l) => l.state === 'offered' || l.state === 'bound');
          if (new Set(held.map((l) => l.client)).size !== held.length) return false;
          for (const l of held) if (s.addressOf(l.client) !== l.address) return false;
        }
        return true;
      }),
      { seed: 5, numRuns: 300 },
    ),
  );
});

test('bad configuration is refused with DHCP_ERR_BAD_CONFIG naming the problem', (t) => {
  const bad: [Partial<DhcpServerConfig>, RegExp][] = [
    [{ subnetMask: ipv4('255.0.255.0') }, /subnetMask 255.0.255.0 is not a usable subnet mask/],
    [{ serverId: ipv4('127.0.0.1') }, /serverId 127.0.0.1 is not a host address/],
    [{ poolEnd: ipv4('10.0.1.5') }, /pool 10.0.0.100..10.0.1.5 is not inside 10.0.0.0\/255.255.255.0/],
    [
      { poolStart: ipv4('10.0.0.120'), poolEnd: ipv4('10.0.0.110') },
      /pool start 10.0.0.120 is after its end/,
    ],
    [{ leaseSeconds: 0 }, /leaseSeconds 0 is not a whole number of seconds/],
    [{ leaseSeconds: 7200 }, /min <= default <= max \(got 60, 7200, 3600\)/],
    [{ offerHoldMs: Number.NaN }, /offerHoldMs NaN/],
    [{ poolStart: ipv4('10.0.0.1'), poolEnd: ipv4('10.0.0.1') }, /the pool holds no address/],
    [
      { subnetMask: ipv4('255.0.0.0'), poolStart: ipv4('10.0.0.0'), poolEnd: ipv4('10.255.255.255') },
      /pool of 16777216 addresses; at most 65536/,
    ],
  ];
  for (const [cfg, re] of bad) {
    const e = t.throws(() => new DhcpServer({ ...CFG, ...cfg }), { instanceOf: FishnetError });
    t.is(e?.errName, 'DHCP_ERR_BAD_CONFIG');
    t.regex(e?.message ?? '', re);
  }
  t.is(new DhcpServer({ ...CFG, poolStart: ipv4('10.0.0.0'), poolEnd: ipv4('10.0.0.255') }).poolSize, 252);
});
