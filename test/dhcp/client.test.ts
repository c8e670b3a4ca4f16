// The DHCP client's state machine, input by input: what it sends, what it ignores
// (and counts), its timers, its errors; and a fuzz of hostile replies and timings.
import test from 'ava';
import fc from 'fast-check';
import { DhcpClient, type DhcpClientAction, type DhcpClientConfig } from '../../lib/dhcp/client.ts';
import { SeededPrng } from '../../lib/dhcp/prng.ts';
import {
  buildDhcp,
  type DhcpFields,
  DhcpMessage,
  DhcpMessageType,
  DhcpOp,
  DhcpOption,
  INFINITE_LEASE,
  IPV4_ANY,
  type Ipv4Addr,
  ipv4,
  mac,
} from '../../lib/net/index.ts';
import { FishnetError } from '../../protocols/errors.ts';

const MAC = mac('02:00:00:00:00:42');
const SERVER = ipv4('10.0.0.1');
const ADDR = ipv4('10.0.0.100');
const S = 1000;

const newClient = (extra: Partial<DhcpClientConfig> = {}) =>
  new DhcpClient({ mac: MAC, random: new SeededPrng(7), hostName: 'netd', ...extra });

const sends = (as: DhcpClientAction[]) => as.filter((a) => a.kind === 'send');
const timerOf = (as: DhcpClientAction[]) => as.find((a) => a.kind === 'timer' || a.kind === 'cancel-timer');

/** The message of the one send in `as`, parsed. */
function sent(as: DhcpClientAction[]): { m: DhcpMessage; a: Extract<DhcpClientAction, { kind: 'send' }> } {
  const s = sends(as);
  if (s.length !== 1)
    throw new Error(`expected one send, got ${s.length}: ${JSON.stringify(as.map((a) => a.kind))}`);
  const m = new DhcpMessage();
  const why = m.attach(s[0]!.message);
  if (why) throw new Error(`client sent a bad message: ${why}`);
  return { m, a: s[0]! };
}

/** A server reply to the client's transaction `xid`. */
function reply(xid: number, f: Partial<DhcpFields> & { messageType: number }): DhcpMessage {
  const m = new DhcpMessage();
  const why = m.attach(buildDhcp({ op: DhcpOp.BOOTREPLY, xid, chaddr: MAC, serverId: SERVER, ...f }));
  if (why) throw new Error(why);
  return m;
}

const offer = (xid: number, f: Partial<DhcpFields> = {}) =>
  reply(xid, { messageType: DhcpMessageType.OFFER, yiaddr: ADDR, leaseTime: 600, ...f });
const ack = (xid: number, f: Partial<DhcpFields> = {}) =>
  reply(xid, {
    messageType: DhcpMessageType.ACK,
    yiaddr: ADDR,
    leaseTime: 600,
    subnetMask: ipv4('255.255.255.0'),
    routers: [SERVER],
    dns: [ipv4('10.0.0.53')],
    ...f,
  });

/** A client in REQUESTING for ADDR; returns it and the xid. */
function requesting(extra: Partial<DhcpClientConfig> = {}): { c: DhcpClient; xid: number } {
  const c = newClient(extra);
  const { m } = sent(c.start(0));
  c.receive(offer(m.xid), 100);
  return { c, xid: m.xid };
}

/** A client BOUND to ADDR at time 200 (REQUEST sent at 100). */
function bound(f: Partial<DhcpFields> = {}): { c: DhcpClient; xid: number } {
  const { c, xid } = requesting();
  c.receive(ack(xid, f), 150);
  c.probeResult(ADDR, false, 200);
  return { c, xid };
}

test('start: a broadcast DISCOVER with the options a client sends, and a timer 4 s (±1 s) on', (t) => {
  const c = newClient();
  const out = c.start(1000);
  const { m, a } = sent(out);
  t.like(a, { type: DhcpMessageType.DISCOVER, src: 0, dst: 0xffff_ffff, broadcast: true });
  t.is(m.op, DhcpOp.BOOTREQUEST);
  t.is(m.htype, 1);
  t.is(m.hlen, 6);
  t.is(m.chaddr, MAC);
  t.true(m.broadcast);
  t.is(m.ciaddr, IPV4_ANY);
  t.is(m.messageType, DhcpMessageType.DISCOVER);
  t.deepEqual(Array.from(m.clientId!), [1, 2, 0, 0, 0, 0, 0x42]);
  t.deepEqual(Array.from(m.parameterRequestList!), [1, 3, 6, 51, 54, 58, 59]);
  t.is(m.hostName, 'netd');
  t.is(m.requestedIp, undefined);
  const timer = timerOf(out);
  t.is(timer?.kind, 'timer');
  const at = (timer as { at: number }).at;
  t.true(at >= 1000 + 3 * S && at <= 1000 + 5 * S, `timer at ${at}`);
  t.is(c.state, 'SELECTING');
  t.is(c.deadline, at);
  t.throws(() => c.start(2000), { instanceOf: FishnetError, message: /already started \(state SELECTING\)/ });
});

test('SELECTING ignores (and counts) what is not a good OFFER for this transaction', (t) => {
  const c = newClient();
  const { m } = sent(c.start(0));
  const x = m.xid;
  const cases: [DhcpMessage, string][] = [
    [offer(x + 1), 'wrong-xid'],
    [
      reply(x, { messageType: DhcpMessageType.OFFER, yiaddr: ADDR, chaddr: mac('02:00:00:00:00:43') }),
      'wrong-chaddr',
    ],
    [
      (() => {
        const r = new DhcpMessage();
        r.attach(
          buildDhcp({
            op: DhcpOp.BOOTREQUEST,
            xid: x,
            chaddr: MAC,
            messageType: 2,
            yiaddr: ADDR,
            serverId: SERVER,
          }),
        );
        return r;
      })(),
      'not-a-reply',
    ],
    [
      (() => {
        const r = new DhcpMessage();
        r.attach(buildDhcp({ op: DhcpOp.BOOTREPLY, xid: x, chaddr: MAC, yiaddr: ADDR }));
        return r;
      })(),
      'no-type',
    ],
    [ack(x), 'unexpected'],
    [offer(x, { yiaddr: 0 as Ipv4Addr }), 'bad-offer'],
    [offer(x, { yiaddr: ipv4('127.0.0.1') }), 'bad-offer'],
    [offer(x, { yiaddr: ipv4('224.0.0.1') }), 'bad-offer'],
    [offer(x, { yiaddr: ipv4('255.255.255.255') }), 'bad-offer'],
    [offer(x, { serverId: undefined }), 'bad-offer'],
  ];
  for (const [msg, why] of cases) {
    const before = c.stats.ignored[why as keyof typeof c.stats.ignored];
    const out = c.receive(msg, 50);
    t.deepEqual(out, [], why);
    t.is(c.stats.ignored[why as keyof typeof c.stats.ignored], before + 1, why);
    t.is(c.state, 'SELECTING');
  }
});

test('an OFFER: a broadcast REQUEST with the same xid, the offered address and the server id', (t) => {
  const c = newClient();
  const { m: d } = sent(c.start(0));
  const out = c.receive(offer(d.xid), 100);
  const { m, a } = sent(out);
  t.like(a, { type: DhcpMessageType.REQUEST, src: 0, dst: 0xffff_ffff, broadcast: true });
  t.is(m.xid, d.xid);
  t.is(m.ciaddr, IPV4_ANY);
  t.is(m.requestedIp, ADDR);
  t.is(m.serverId, SERVER);
  t.is(c.state, 'REQUESTING');
  t.is(c.stats.offers, 1);
  t.deepEqual(c.receive(offer(d.xid, { yiaddr: ipv4('10.0.0.101') }), 120), [], 'later offers are ignored');
});

test('REQUESTING: an ACK is checked (server, address, lease, mask), then probed, then bound', (t) => {
  const { c, xid } = requesting();
  const bad: [DhcpMessage, string][] = [
    [ack(xid, { serverId: ipv4('10.0.0.2') }), 'wrong-server'],
    [ack(xid, { yiaddr: ipv4('10.0.0.101') }), 'bad-ack'],
    [ack(xid, { leaseTime: undefined }), 'bad-ack'],
    [ack(xid, { leaseTime: 0 }), 'bad-ack'],
    [ack(xid, { subnetMask: ipv4('255.0.255.0') }), 'bad-ack'],
    [reply(xid, { messageType: DhcpMessageType.NAK, serverId: ipv4('10.0.0.2') }), 'wrong-server'],
  ];
  for (const [msg, why] of bad) {
    t.deepEqual(c.receive(msg, 150), [], why);
    t.is(c.state, 'REQUESTING', why);
  }
  t.is(c.stats.ignored['wrong-server'], 2);
  t.is(c.stats.ignored['bad-ack'], 4);
  const out = c.receive(ack(xid, { renewalTime: 100, rebindingTime: 200 }), 150);
  t.deepEqual(
    out.filter((a) => a.kind === 'probe'),
    [{ kind: 'probe', address: ADDR }],
  );
  t.is(c.state, 'PROBING');
  t.deepEqual(c.probeResult(ipv4('10.0.0.7'), false, 160), [], 'a probe of another address');
  t.is(c.stats.ignored['stale-probe'], 1);
  const done = c.probeResult(ADDR, false, 2000);
  const b = done.find((a) => a.kind === 'bound');
  t.like(b, {
    renewed: false,
    lease: {
      address: ADDR,
      mask: ipv4('255.255.255.0'),
      router: SERVER,
      routers: [SERVER],
      dns: [ipv4('10.0.0.53')],
      server: SERVER,
      leaseSeconds: 600,
      obtainedAt: 100, // when the REQUEST went out, not when the ACK came
      t1At: 100 + 100 * S,
      t2At: 100 + 200 * S,
      expiresAt: 100 + 600 * S,
    },
  });
  t.deepEqual(timerOf(done), { kind: 'timer', at: 100 + 100 * S });
  t.is(c.state, 'BOUND');
  t.is(c.lease?.address, ADDR);
});

test('lease times that break T1 < T2 < lease are replaced by the defaults; no mask means the classful one', (t) => {
  for (const [t1, t2, w1, w2] of [
    [undefined, undefined, 300, 525],
    [500, 400, 300, 400], // T1 after T2: T1 defaults
    [100, 700, 100, 525], // T2 past the lease: T2 defaults
    [0, 0, 300, 525],
  ] as const) {
    const { c } = bound({ renewalTime: t1, rebindingTime: t2, subnetMask: undefined });
    t.is(c.lease!.t1At - 100, w1 * S, `T1 for ${t1}/${t2}`);
    t.is(c.lease!.t2At - 100, w2 * S, `T2 for ${t1}/${t2}`);
    t.is(c.lease!.mask, ipv4('255.0.0.0'), '10/8 is class A');
  }
});

test('an infinite lease arms no timer', (t) => {
  const { c, xid } = requesting();
  c.receive(ack(xid, { leaseTime: INFINITE_LEASE }), 150);
  const out = c.probeResult(ADDR, false, 200);
  t.is(c.lease!.expiresAt, Infinity);
  t.deepEqual(timerOf(out), { kind: 'cancel-timer' });
  t.is(c.deadline, Infinity);
});

test('without probing, an ACK binds at once', (t) => {
  const { c, xid } = requesting({ probe: false });
  const out = c.receive(ack(xid), 150);
  t.is(out.filter((a) => a.kind === 'probe').length, 0);
  t.is(out.find((a) => a.kind === 'bound')?.kind, 'bound');
});

test('REQUESTING unanswered: the REQUEST is retransmitted with back-off, then back to INIT with a new xid', (t) => {
  const { c, xid } = requesting({ maxRequestAttempts: 3 });
  const times: number[] = [];
  let now = 100;
  let out: DhcpClientAction[] = [];
  for (let i = 0; i < 3; i++) {
    now = c.deadline;
    times.push(now);
    out = c.timer(now);
  }
  const { m, a } = sent(out);
  t.is(a.type, DhcpMessageType.DISCOVER);
  t.not(m.xid, xid);
  t.is(c.state, 'SELECTING');
  t.is(c.stats.retransmissions, 2);
  t.is(c.stats.sent.REQUEST, 3);
  const gaps = [times[0]! - 100, times[1]! - times[0]!, times[2]! - times[1]!];
  for (const [i, g] of gaps.entries()) t.true(Math.abs(g - 4 * S * 2 ** i) <= S, `gap ${i}: ${g}`);
});

test('a timer that fires early does nothing but re-arm; one that fires late acts on every deadline passed', (t) => {
  const { c } = bound();
  const at = c.deadline;
  t.deepEqual(c.timer(at - 1), [{ kind: 'timer', at }]);
  t.is(c.state, 'BOUND');
  // Asleep past T2: the client goes straight to REBINDING (broadcast).
  const l = c.lease!;
  const { a } = sent(c.timer(l.t2At + 10));
  t.like(a, { type: DhcpMessageType.REQUEST, broadcast: true, src: ADDR });
  t.is(c.state, 'REBINDING');
  // Asleep past expiry: lost, INIT, DISCOVER asking for the old address.
  const out = c.timer(l.expiresAt + 10);
  t.like(
    out.find((x) => x.kind === 'lease-lost'),
    { address: ADDR, reason: 'expired' },
  );
  const { m } = sent(out);
  t.is(m.messageType, DhcpMessageType.DISCOVER);
  t.is(m.requestedIp, ADDR);
});

test('NAK while REQUESTING: straight back to DISCOVER; a second NAK in the same acquisition backs off', (t) => {
  const { c, xid } = requesting();
  const out = c.receive(reply(xid, { messageType: DhcpMessageType.NAK, message: 'no' }), 150);
  const { m } = sent(out);
  t.is(m.messageType, DhcpMessageType.DISCOVER);
  t.not(m.xid, xid);
  c.receive(offer(m.xid), 200);
  const out2 = c.receive(reply(m.xid, { messageType: DhcpMessageType.NAK }), 250);
  t.is(sends(out2).length, 0);
  t.is(c.state, 'INIT');
  t.true(c.deadline >= 250 + 3 * S && c.deadline <= 250 + 5 * S, `waits ${c.deadline - 250} ms`);
  t.is(sent(c.timer(c.deadline)).a.type, DhcpMessageType.DISCOVER);
  t.is(c.stats.naks, 2);
});

test("NAK while RENEWING: the lease is lost with the server's reason, and acquisition starts again", (t) => {
  const { c } = bound();
  const l = c.lease!;
  const { m } = sent(c.timer(l.t1At));
  t.is(m.ciaddr, ADDR);
  t.false(m.broadcast, 'a client with an address does not ask for broadcast replies');
  const out = c.receive(
    reply(m.xid, { messageType: DhcpMessageType.NAK, message: 'address moved' }),
    l.t1At + 5,
  );
  t.like(
    out.find((a) => a.kind === 'lease-lost'),
    { address: ADDR, reason: 'nak', detail: 'NAK from 10.0.0.1: address moved' },
  );
  t.is(sent(out).a.type, DhcpMessageType.DISCOVER);
  t.is(c.lease, undefined);
});

test('release: a unicast RELEASE to the server, the lease lost, stopped, no timer', (t) => {
  const { c } = bound();
  const out = c.release(5000);
  const { m, a } = sent(out);
  t.like(a, { type: DhcpMessageType.RELEASE, src: ADDR, dst: SERVER, broadcast: false });
  t.is(m.ciaddr, ADDR);
  t.is(m.serverId, SERVER);
  t.false(m.hasOption(DhcpOption.PARAMETER_REQUEST_LIST));
  t.like(
    out.find((x) => x.kind === 'lease-lost'),
    { reason: 'released' },
  );
  t.deepEqual(timerOf(out), { kind: 'cancel-timer' });
  t.is(c.state, 'STOPPED');
  t.deepEqual(c.receive(ack(m.xid), 5001), [], 'nothing is taken once stopped');
});

test('bad configuration is refused with DHCP_ERR_BAD_CONFIG naming the field', (t) => {
  const rnd = new SeededPrng(1);
  const bad: [Partial<DhcpClientConfig>, RegExp][] = [
    [{ mac: mac('01:00:5e:00:00:01') }, /mac .* is not a unicast MAC/],
    [{ mac: (2 ** 48) as never }, /mac .* is not a unicast MAC/],
    [{ acquireTimeoutMs: -5 }, /acquireTimeoutMs -5 is not a positive/],
    [{ acquireTimeoutMs: Number.NaN }, /acquireTimeoutMs NaN/],
    [{ declineWaitMs: Infinity }, /declineWaitMs Infinity/],
    [{ maxRequestAttempts: 0 }, /maxRequestAttempts 0/],
    [{ hostName: 'nëtd' }, /host name 'nëtd' has a character/],
    [{ random: {} as never }, /random must be a Prng/],
  ];
  for (const [cfg, msg] of bad) {
    const e = t.throws(() => new DhcpClient({ mac: MAC, random: rnd, ...cfg }), { instanceOf: FishnetError });
    t.is(e?.errName, 'DHCP_ERR_BAD_CONFIG');
    t.regex(e?.message ?? '', msg);
  }
  t.notThrows(() => new DhcpClient({ mac: MAC, random: rnd, acquireTimeoutMs: Infinity }));
});

test('fuzz: hostile replies, probe results and timers in any order never throw, and the timer always matches', (t) => {
  // Weighted towards answers that move the client on, so that every state is reached.
  const replyTypes = [2, 2, 2, 5, 5, 5, 5, 6, 1, 3, 4, 7, 8, 9, 200];
  const ev = fc.oneof(
    fc.record({
      kind: fc.constant('reply' as const),
      sameXid: fc.constantFrom(true, true, true, false),
      type: fc.option(fc.constantFrom(...replyTypes), { nil: undefined }),
      yiaddr: fc.constantFrom(
        ADDR,
        ADDR,
        ADDR,
        ADDR,
        ipv4('10.0.0.101'),
        0 as Ipv4Addr,
        ipv4('255.255.255.255'),
      ),
      server: fc.option(fc.constantFrom(SERVER, SERVER, SERVER, ipv4('10.0.0.2'), 0 as Ipv4Addr), {
        nil: undefined,
      }),
      lease: fc.option(fc.constantFrom(0, 1, 60, 600, 600, 600, INFINITE_LEASE), { nil: undefined }),
      t1: fc.option(fc.nat(2000), { nil: undefined }),
      t2: fc.option(fc.nat(2000), { nil: undefined }),
      mask: fc.option(fc.constantFrom(ipv4('255.255.255.0'), ipv4('255.0.255.0'), 0 as Ipv4Addr), {
        nil: undefined,
      }),
      dt: fc.nat(5000),
    }),
    fc.record({ kind: fc.constant('timer' as const), late: fc.nat(100 * S) }),
    fc.record({
      kind: fc.constant('probe' as const),
      taken: fc.constantFrom(false, false, true),
      right: fc.constantFrom(true, true, false),
      dt: fc.nat(3000),
    }),
    fc.record({ kind: fc.constant('release' as const) }),
    // What a good server would answer in the client's state (an OFFER, an ACK, sometimes a NAK).
    fc.record({
      kind: fc.constant('answer' as const),
      nak: fc.constantFrom(false, false, false, true),
      dt: fc.nat(2000),
    }),
  );
  const seen = new Set<string>();
  t.notThrows(() =>
    fc.assert(
      fc.property(fc.integer(), fc.array(ev, { minLength: 10, maxLength: 80 }), (seed, events) => {
        const c = new DhcpClient({ mac: MAC, random: new SeededPrng(seed), acquireTimeoutMs: 600 * S });
        let now = 0;
        let armed = Infinity;
        let lastXid = 0;
        const check = (out: DhcpClientAction[]) => {
          for (const a of out) {
            if (a.kind === 'timer') armed = a.at;
            if (a.kind === 'cancel-timer') armed = Infinity;
            if (a.kind === 'send') {
              const m = new DhcpMessage();
              if (m.attach(a.message) !== undefined || m.op !== 1 || m.chaddr !== MAC) return false;
              lastXid = m.xid;
            }
            if (a.kind === 'bound' && !(a.lease.t1At < a.lease.t2At || a.lease.t1At === Infinity))
              return false;
          }
          if (armed !== c.deadline) return false;
          if (c.state === 'BOUND' && c.lease === undefined) return false;
          seen.add(c.state);
          return true;
        };
        if (!check(c.start(now))) return false;
        for (const e of events) {
          let out: DhcpClientAction[];
          if (e.kind === 'reply') {
            now += e.dt;
            const m = new DhcpMessage();
            m.attach(
              buildDhcp({
                op: DhcpOp.BOOTREPLY,
                xid: e.sameXid ? lastXid : (lastXid ^ 1) >>> 0,
                chaddr: MAC,
                messageType: e.type,
                yiaddr: e.yiaddr,
                serverId: e.server,
                leaseTime: e.lease,
                renewalTime: e.t1,
                rebindingTime: e.t2,
                subnetMask: e.mask,
              }),
            );
            out = c.receive(m, now);
          } else if (e.kind === 'timer') {
            if (c.deadline === Infinity) continue;
            now = Math.max(now, c.deadline + e.late);
            armed = Infinity; // a timer that fired is spent
            out = c.timer(now);
          } else if (e.kind === 'answer') {
            now += e.dt;
            const type =
              c.state === 'SELECTING'
                ? DhcpMessageType.OFFER
                : e.nak
                  ? DhcpMessageType.NAK
                  : DhcpMessageType.ACK;
            const m = new DhcpMessage();
            m.attach(
              buildDhcp({
                op: DhcpOp.BOOTREPLY,
                xid: lastXid,
                chaddr: MAC,
                messageType: type,
                yiaddr: type === DhcpMessageType.NAK ? IPV4_ANY : (c.lease?.address ?? ADDR),
                serverId: SERVER,
                leaseTime: type === DhcpMessageType.NAK ? undefined : 600,
              }),
            );
            out = c.receive(m, now);
          } else if (e.kind === 'probe') {
            now += e.dt;
            out = c.probeResult(e.right ? ADDR : ipv4('10.0.0.9'), e.taken, now);
          } else {
            out = c.release(now);
            if (!check(out)) return false;
            out = c.start(now);
          }
          if (!check(out)) return false;
        }
        return true;
      }),
      { seed: 42, numRuns: 300 },
    ),
  );
  // The fuzz reached every state, so the property was checked in each.
  t.deepEqual([...seen].sort(), [
    'BOUND',
    'FAILED',
    'INIT',
    'PROBING',
    'REBINDING',
    'RENEWING',
    'REQUESTING',
    'SELECTING',
    'STOPPED',
  ]);
});
