// The stack in one thread, on a fake link: ARP resolution through the cache, routing
// on-link and through the gateway, broadcast permission, fragmentation out and
// reassembly in, ICMP errors to the socket they concern, loopback, back-pressure,
// refused frames, and hostile frames: each counted once, by cause, never thrown.
import test from 'ava';
import fc from 'fast-check';
import { Ipv4Reassembler } from '../../lib/lwip/ipv4-reassembly.ts';
import { STACK_DROPS, type StackStats } from '../../lib/lwip/stack.ts';
import {
  ArpOp,
  ArpPacket,
  arpFrame,
  BROADCAST_MAC,
  EthernetFrame,
  type Ipv4Addr,
  Ipv4Packet,
  icmpEchoFrame,
  internetChecksum,
  ipv4,
  ipv4Frame,
  type Mac,
  readMac,
  tcpFrame,
  UdpDatagram,
  udpFrame,
  writeU16,
} from '../../lib/net/index.ts';
import { Err } from '../../protocols/errors.ts';
import { GW, GW_MAC, once, PEER, PEER_MAC, rig, tick, US, US_MAC } from './helpers.ts';

const PORT = 7000;

/** The ARP request/reply of a peer, as the driver replicates it to us. */
const arpFrom = (op: number, senderMac: Mac, senderIp: Ipv4Addr, targetIp: Ipv4Addr, dst = BROADCAST_MAC) =>
  arpFrame({ dstMac: dst, srcMac: senderMac, op, senderMac, senderIp, targetMac: 0 as Mac, targetIp });

const udpIn = (
  payload: Uint8Array,
  o: { srcPort?: number; dstPort?: number; src?: Ipv4Addr; dst?: Ipv4Addr } = {},
) =>
  udpFrame({
    dstMac: US_MAC,
    srcMac: PEER_MAC,
    src: o.src ?? PEER,
    dst: o.dst ?? US,
    srcPort: o.srcPort ?? 5000,
    dstPort: o.dstPort ?? PORT,
    payload,
  });

function parseUdp(frame: Uint8Array) {
  const ip = new Ipv4Packet();
  if (ip.attach(frame, 14) !== undefined) throw new Error('not IPv4');
  const u = new UdpDatagram();
  if (u.attach(frame, ip.payloadOffset, 14 + ip.totalLength) !== undefined) throw new Error('not UDP');
  return {
    dstMac: readMac(frame, 0),
    srcMac: readMac(frame, 6),
    src: ip.src,
    dst: ip.dst,
    ttl: ip.ttl,
    srcPort: u.srcPort,
    dstPort: u.dstPort,
    ipChecksumOk: ip.checksumValid(),
    udpChecksumOk: u.checksum !== 0 && u.checksumValid(ip.src, ip.dst),
    payload: frame.slice(u.payloadOffset, u.payloadOffset + u.payloadLength),
  };
}

async function bound(r: ReturnType<typeof rig>, port = PORT) {
  const s = r.socket();
  s.bind(port);
  await once(s, 'listening');
  return s;
}

/** Each frame in is dropped, taken by ARP, held, or delivered: exactly once. */
function accounted(st: StackStats): number {
  let n = st.rx.arp + st.rx.held;
  for (const v of Object.values(st.delivered)) n += v;
  for (const c of STACK_DROPS) {
    if (c.startsWith('tx-') || (c.startsWith('arp-') && c !== 'arp-malformed') || c === 'loopback-full')
      continue;
    n += st.dropped[c];
  }
  return n;
}

test('an unknown on-link host: the datagram waits in its slot, an ARP request goes out, the reply sends it', async (t) => {
  const r = rig();
  const s = await bound(r);
  const done = new Promise<[Error | null, number]>((res) =>
    s.send('hello', 5000, '10.0.0.9', (e, n) => res([e, n!])),
  );
  await tick();
  t.is(r.link.sent.length, 1);
  const req = new ArpPacket();
  t.is(req.attach(r.link.sent[0]!, 14), undefined);
  t.is(readMac(r.link.sent[0]!, 0), BROADCAST_MAC);
  t.like(
    { op: req.op, smac: req.senderMac, sip: req.senderIp, tip: req.targetIp },
    { op: ArpOp.REQUEST, smac: US_MAC, sip: US, tip: PEER },
  );
  t.is(r.link.txAvailable(), 64 - 1, 'the waiting frame holds its slot');
  r.link.deliver(arpFrom(ArpOp.REPLY, PEER_MAC, PEER, US, US_MAC));
  t.deepEqual(await done, [null, 5]);
  const u = parseUdp(r.link.sent[1]!);
  t.like(u, {
    dstMac: PEER_MAC,
    srcMac: US_MAC,
    src: US,
    dst: PEER,
    ttl: 64,
    srcPort: PORT,
    dstPort: 5000,
    ipChecksumOk: true,
    udpChecksumOk: true,
  });
  t.is(Buffer.from(u.payload).toString(), 'hello');
  // Known now: the next datagram goes at once, no ARP.
  s.send('again', 5000, '10.0.0.9');
  await tick();
  t.is(r.link.sent.length, 3);
  t.is(parseUdp(r.link.sent[2]!).dstMac, PEER_MAC);
  t.like(r.stack.stats().arp, { requestsSent: 1, learned: 1 });
  await r.close();
});

test('off-link destinations go through the gateway; no gateway is ENETUNREACH', async (t) => {
  const r = rig();
  const s = await bound(r);
  s.send('x', 53, '192.0.2.1');
  await tick();
  t.is(new ArpPacket().attach(r.link.sent[0]!, 14), undefined);
  const req = new ArpPacket();
  req.attach(r.link.sent[0]!, 14);
  t.is(req.targetIp, GW);
  r.link.deliver(arpFrom(ArpOp.REPLY, GW_MAC, GW, US, US_MAC));
  await tick();
  t.like(parseUdp(r.link.sent[1]!), { dstMac: GW_MAC, dst: ipv4('192.0.2.1'), dstPort: 53 });
  r.stack.setAddress(US, 0 as Ipv4Addr, ipv4('255.255.255.0'));
  const [e] = await new Promise<[Error | null]>((res) => s.send('x', 53, '192.0.2.1', (err) => res([err])));
  t.like(e, { code: 'ENETUNREACH', syscall: 'send', message: 'send ENETUNREACH 192.0.2.1:53' });
  await r.close();
});

test('no ARP reply: three requests a second apart, then the datagram fails with EHOSTUNREACH and its slot is free', async (t) => {
  const r = rig();
  const s = await bound(r);
  const done = new Promise<Error | null>((res) => s.send('x', 5000, '10.0.0.77', (e) => res(e)));
  await tick();
  for (let i = 0; i < 3; i++) {
    r.clock.advance(1000);
    r.stack.poll();
  }
  const e = await done;
  t.like(e, { code: 'EHOSTUNREACH', errno: -113 });
  t.is(r.stack.stats().arp.requestsSent, 3);
  t.is(r.stack.stats().dropped['arp-unreachable'], 1);
  t.is(r.link.txAvailable(), 64);
  t.deepEqual(s.stats().sendErrors, { EHOSTUNREACH: 1 });
  await r.close();
});

test('broadcast: EACCES without setBroadcast (limited and subnet), the broadcast MAC with it', async (t) => {
  const r = rig();
  const s = await bound(r);
  for (const to of ['255.255.255.255', '10.0.0.255']) {
    const [e] = await new Promise<[Error | null]>((res) => s.send('x', 67, to, (err) => res([err])));
    t.like(e, { code: 'EACCES', message: `send EACCES ${to}:67` });
  }
  t.is(r.link.sent.length, 0);
  s.setBroadcast(true);
  await new Promise((res) => s.send('x', 67, '255.255.255.255', res));
  await new Promise((res) => s.send('y', 67, '10.0.0.255', res));
  t.like(parseUdp(r.link.sent[0]!), { dstMac: BROADCAST_MAC, dst: ipv4('255.255.255.255') });
  t.like(parseUdp(r.link.sent[1]!), { dstMac: BROADCAST_MAC, dst: ipv4('10.0.0.255') });
  t.is(r.stack.stats().arp.requestsSent, 0);
  // A socket bound to 0.0.0.0 receives both kinds of broadcast; a frame to the broadcast MAC for our unicast address is not taken.
  const got: string[] = [];
  s.on('message', (m) => got.push(m.toString()));
  const bcast = (dst: Ipv4Addr, payload: string) =>
    udpFrame({
      dstMac: BROADCAST_MAC,
      srcMac: PEER_MAC,
      src: PEER,
      dst,
      srcPort: 68,
      dstPort: PORT,
      payload: Buffer.from(payload),
    });
  r.link.deliver(bcast(ipv4('255.255.255.255'), 'all'));
  r.link.deliver(bcast(ipv4('10.0.0.255'), 'subnet'));
  r.link.deliver(bcast(US, 'spoofed'));
  t.deepEqual(got, ['all', 'subnet']);
  t.is(r.stack.stats().dropped['ip-link-broadcast'], 1);
  await r.close();
});

test('a 20,000-byte datagram leaves in 14 fragments of at most 1514 bytes; another stack reassembles it', async (t) => {
  const a = rig();
  const b = rig({ mac: PEER_MAC, ip: PEER });
  const sa = await bound(a);
  const sb = await bound(b, 9000);
  // a learns b from b's request for a (the driver copies ARP to every client).
  a.link.deliver(arpFrom(ArpOp.REQUEST, PEER_MAC, PEER, US));
  const payload = new Uint8Array(20000);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 8)) & 0xff;
  const sent = new Promise<[Error | null, number]>((res) =>
    sa.send(payload, 9000, '10.0.0.9', (e, n) => res([e, n!])),
  );
  await tick();
  t.is(a.link.sent.length, 14);
  const ids = new Set<number>();
  const reasm = new Ipv4Reassembler();
  let whole: Uint8Array | undefined;
  for (const f of a.link.sent) {
    t.true(f.length <= 1514);
    t.is(readMac(f, 0), PEER_MAC);
    const ip = new Ipv4Packet();
    t.is(ip.attach(f, 14), undefined);
    t.true(ip.checksumValid());
    ids.add(ip.id);
    const res = reasm.input(f, 14, f.length, 0);
    if (res.kind === 'complete') whole = res.datagram;
  }
  t.is(ids.size, 1, 'one IP id');
  t.deepEqual(await sent, [null, 20000]);
  t.truthy(whole);
  const u = new UdpDatagram();
  t.is(u.attach(whole!, 20), undefined);
  t.true(u.checksumValid(US, PEER));
  t.deepEqual(whole!.subarray(28), payload);
  // Delivered to b, out of order.
  const got = once<[Buffer, { size: number; address: string; port: number }]>(sb, 'message');
  const frames = [...a.link.sent].reverse();
  for (const f of frames) b.link.deliver(f);
  const [msg, rinfo] = await got;
  t.deepEqual(new Uint8Array(msg), payload);
  t.like(rinfo, { size: 20000, address: '10.0.0.2', port: PORT });
  const st = b.stack.stats();
  t.is(st.rx.held, 13);
  t.is(st.rx.reassembled, 1);
  t.like(st.reassembly, { reassembled: 1, heldDatagrams: 0 });
  t.is(a.stack.stats().tx.fragmented, 1);
  // Too big for IPv4: EMSGSIZE, as Node says it.
  const [e] = await new Promise<[Error | null]>((res) =>
    sa.send(new Uint8Array(65508), 9000, '10.0.0.9', (err) => res([err])),
  );
  t.like(e, { code: 'EMSGSIZE', errno: -90, syscall: 'send', message: 'send EMSGSIZE 10.0.0.9:9000' });
  await a.close();
  await b.close();
});

test('a datagram needing more slots than are free fails whole (ENOBUFS); txReady says when to go on', async (t) => {
  const r = rig({ txSlots: 8 });
  r.link.autoComplete = undefined;
  const s = await bound(r);
  r.link.deliver(arpFrom(ArpOp.REQUEST, PEER_MAC, PEER, US));
  const [e] = await new Promise<[Error | null]>((res) =>
    s.send(new Uint8Array(20000), 9, '10.0.0.9', (err) => res([err])),
  );
  t.like(e, { code: 'ENOBUFS' });
  t.is(r.link.sent.length, 0, 'nothing of it was sent');
  for (let i = 0; i < 8; i++) s.send('x', 9, '10.0.0.9');
  await tick();
  t.is(r.link.txAvailable(), 0);
  const [e2] = await new Promise<[Error | null]>((res) => s.send('x', 9, '10.0.0.9', (err) => res([err])));
  t.like(e2, { code: 'ENOBUFS', message: 'send ENOBUFS 10.0.0.9:9' });
  let ready = false;
  const p = r.stack.txReady().then(() => {
    ready = true;
  });
  await tick();
  t.false(ready);
  r.link.complete([...r.link.inFlight.keys()][0]!);
  await p;
  t.true(ready);
  t.is(r.stack.txAvailable(), 1);
  // Without a callback the failure is only counted, as node:dgram does not report it either.
  t.deepEqual(s.stats().sendErrors, { ENOBUFS: 2 });
  r.link.autoComplete = Err.OK;
  for (const slot of [...r.link.inFlight.keys()]) r.link.complete(slot);
  await r.close();
});

test('a frame the driver refuses (no transmit filter) fails its send with EPERM, counted', async (t) => {
  const r = rig();
  r.link.autoComplete = Err.ETHSRV_ERR_TX_REFUSED;
  const s = await bound(r);
  r.link.deliver(arpFrom(ArpOp.REQUEST, PEER_MAC, PEER, US));
  const [e] = await new Promise<[Error | null]>((res) => s.send('x', 9, '10.0.0.9', (err) => res([err])));
  t.like(e, { code: 'EPERM' });
  t.is(r.stack.stats().dropped['tx-refused'], 1);
  await r.close();
});

test('ICMP port unreachable: an icmp event on the socket; an error (ECONNREFUSED, recvmsg) when it is connected to that peer', async (t) => {
  const r = rig();
  const s = await bound(r);
  r.link.deliver(arpFrom(ArpOp.REQUEST, PEER_MAC, PEER, US));
  s.send('probe', 5000, '10.0.0.9');
  await tick();
  const sentFrame = r.link.sent.at(-1)!;
  const unreachable = (code: number, type = 3) => {
    const quote = sentFrame.slice(14, 14 + 28);
    const icmp = new Uint8Array(8 + quote.length);
    icmp[0] = type;
    icmp[1] = code;
    icmp.set(quote, 8);
    writeU16(icmp, 2, internetChecksum(icmp, 0, icmp.length));
    return ipv4Frame({ dstMac: US_MAC, srcMac: PEER_MAC, src: PEER, dst: US, protocol: 1, payload: icmp });
  };
  const icmps: { errno: string; fatal: boolean; dstPort: number }[] = [];
  s.on('icmp', (e) => icmps.push(e));
  const errors: Error[] = [];
  s.on('error', (e) => errors.push(e));
  r.link.deliver(unreachable(3));
  t.like(icmps[0], { errno: 'ECONNREFUSED', fatal: true, dstPort: 5000 });
  t.is(errors.length, 0, 'not connected: no error (Linux reports it only to connected sockets)');
  await new Promise<void>((res) => s.connect(5000, '10.0.0.9', () => res()));
  r.link.deliver(unreachable(3));
  t.is(errors.length, 1);
  t.like(errors[0], {
    code: 'ECONNREFUSED',
    errno: -111,
    syscall: 'recvmsg',
    message: 'recvmsg ECONNREFUSED',
  });
  // Soft errors (host unreachable, time exceeded) are events only.
  r.link.deliver(unreachable(1));
  r.link.deliver(unreachable(0, 11));
  t.is(errors.length, 1);
  t.deepEqual(
    icmps.map((i) => i.errno),
    ['ECONNREFUSED', 'ECONNREFUSED', 'EHOSTUNREACH', 'EHOSTUNREACH'],
  );
  // Quoting a port nobody has open, or a datagram not from us: counted.
  const other = unreachable(3);
  writeU16(other, 14 + 20 + 8 + 20, 4444); // quoted source port
  writeU16(other, 14 + 20 + 2, 0);
  writeU16(other, 14 + 20 + 2, internetChecksum(other, 14 + 20, other.length - 34));
  r.link.deliver(other);
  t.is(r.stack.stats().dropped['icmp-no-socket'], 1);
  r.link.deliver(
    icmpEchoFrame({ dstMac: US_MAC, srcMac: PEER_MAC, src: PEER, dst: US, type: 8, id: 1, seq: 1 }),
  );
  t.is(r.stack.stats().dropped['icmp-not-error'], 1);
  await r.close();
});

test('checksums: a zero UDP checksum is accepted (none), a wrong one dropped; TCP is counted and dropped', async (t) => {
  const r = rig();
  const s = await bound(r);
  const got: string[] = [];
  s.on('message', (m) => got.push(m.toString()));
  const f = udpIn(Buffer.from('nocsum'));
  writeU16(f, 14 + 20 + 6, 0);
  r.link.deliver(f);
  const bad = udpIn(Buffer.from('bad'));
  bad[bad.length - 1] ^= 0xff;
  r.link.deliver(bad);
  const badIp = udpIn(Buffer.from('badip'));
  badIp[14 + 10] ^= 1;
  r.link.deliver(badIp);
  r.link.deliver(
    tcpFrame({
      dstMac: US_MAC,
      srcMac: PEER_MAC,
      src: PEER,
      dst: US,
      srcPort: 1,
      dstPort: 80,
      seq: 1,
      ack: 0,
      flags: 2,
    }),
  );
  t.deepEqual(got, ['nocsum']);
  const st = r.stack.stats();
  t.like(st.dropped, { 'udp-bad-checksum': 1, 'ip-bad-checksum': 1, tcp: 1 });
  t.is(r.udp.stats().noChecksum, 1);
  await r.close();
});

test('loopback: to 127.0.0.1 and to our own address, delivered to this stack; a closed port refuses a connected socket', async (t) => {
  const r = rig();
  const a = await bound(r, 7000);
  const b = await bound(r, 7001);
  const got: [string, string, number][] = [];
  b.on('message', (m, ri) => got.push([m.toString(), ri.address, ri.port]));
  a.send('one', 7001, '127.0.0.1');
  a.send('two', 7001, '10.0.0.2');
  a.send('three', 7001); // no address: 127.0.0.1, as Node
  await tick();
  await tick();
  t.deepEqual(got, [
    ['one', '127.0.0.1', 7000],
    ['two', '10.0.0.2', 7000],
    ['three', '127.0.0.1', 7000],
  ]);
  t.is(r.link.sent.length, 0, 'nothing on the wire');
  const err = new Promise<Error>((res) => a.once('error', res));
  a.connect(7999, '127.0.0.1', () => a.send('anyone?'));
  t.like(await err, { code: 'ECONNREFUSED', syscall: 'recvmsg' });
  await r.close();
});

test('hostile frames, one of each kind: each dropped once under its cause, nothing thrown', async (t) => {
  const r = rig();
  await bound(r);
  const good = () => udpIn(new Uint8Array(20).fill(1));
  const cases: [string, () => Uint8Array][] = [
    ['eth-truncated', () => good().subarray(0, 10)],
    ['eth-not-for-us', () => Object.assign(good(), { 0: 0x02, 5: 0x77 })],
    ['eth-multicast', () => Object.assign(good(), { 0: 0x01, 1: 0, 2: 0x5e })],
    ['eth-vlan', () => Object.assign(good(), { 12: 0x81, 13: 0 })],
    ['eth-type', () => Object.assign(good(), { 12: 0x86, 13: 0xdd })],
    ['arp-malformed', () => arpFrom(ArpOp.REQUEST, PEER_MAC, PEER, US).subarray(0, 30)],
    ['ip-truncated', () => good().subarray(0, 30)],
    ['ip-bad-version', () => Object.assign(good(), { 14: 0x65 })],
    ['ip-bad-header-length', () => Object.assign(good(), { 14: 0x4f }).subarray(0, 60)],
    ['ip-bad-total-length', () => Object.assign(good(), { 16: 0xff })],
    ['ip-bad-checksum', () => Object.assign(good(), { 24: 0x12, 25: 0x34 })],
    ['ip-not-for-us', () => udpIn(new Uint8Array(4), { dst: ipv4('10.0.0.3') })],
    ['ip-multicast', () => udpIn(new Uint8Array(4), { dst: ipv4('224.0.0.1') })],
    ['ip-bad-source', () => udpIn(new Uint8Array(4), { src: US })],
    [
      'ip-protocol',
      () =>
        ipv4Frame({
          dstMac: US_MAC,
          srcMac: PEER_MAC,
          src: PEER,
          dst: US,
          protocol: 47,
          payload: new Uint8Array(8),
        }),
    ],
    [
      'udp-truncated',
      () =>
        ipv4Frame({
          dstMac: US_MAC,
          srcMac: PEER_MAC,
          src: PEER,
          dst: US,
          protocol: 17,
          payload: new Uint8Array(5),
        }),
    ],
    [
      'udp-bad-length',
      () => {
        const f = good();
        writeU16(f, 14 + 20 + 4, 200);
        return f;
      },
    ],
    ['udp-no-socket', () => udpIn(new Uint8Array(4), { dstPort: 7777 })],
    [
      'icmp-truncated',
      () =>
        ipv4Frame({
          dstMac: US_MAC,
          srcMac: PEER_MAC,
          src: PEER,
          dst: US,
          protocol: 1,
          payload: new Uint8Array(4),
        }),
    ],
    [
      'icmp-bad-checksum',
      () =>
        ipv4Frame({
          dstMac: US_MAC,
          srcMac: PEER_MAC,
          src: PEER,
          dst: US,
          protocol: 1,
          payload: new Uint8Array([3, 3, 0, 1, 0, 0, 0, 0]),
        }),
    ],
    [
      'icmp-bad-quote',
      () => {
        const icmp = new Uint8Array(16);
        icmp[0] = 3;
        icmp[1] = 3;
        writeU16(icmp, 2, internetChecksum(icmp, 0, 16));
        return ipv4Frame({
          dstMac: US_MAC,
          srcMac: PEER_MAC,
          src: PEER,
          dst: US,
          protocol: 1,
          payload: icmp,
        });
      },
    ],
  ];
  for (const [cause, make] of cases) {
    const before = r.stack.stats();
    t.notThrows(() => r.link.deliver(make()), cause);
    const after = r.stack.stats();
    t.is(
      after.dropped[cause as keyof typeof after.dropped] -
        before.dropped[cause as keyof typeof before.dropped],
      1,
      cause,
    );
    t.is(accounted(after) - accounted(before), 1, `${cause}: counted once`);
  }
  await r.close();
});

test('property: mutated frames (flipped bytes, cut, stretched) never throw and each is accounted for once', async (t) => {
  const r = rig();
  const s = await bound(r);
  s.on('message', () => {});
  s.on('icmp', () => {});
  const bases = [
    udpIn(new Uint8Array(40).fill(9)),
    arpFrom(ArpOp.REQUEST, PEER_MAC, PEER, US),
    arpFrom(ArpOp.REPLY, GW_MAC, GW, US, US_MAC),
    icmpEchoFrame({ dstMac: US_MAC, srcMac: PEER_MAC, src: PEER, dst: US, type: 8, id: 1, seq: 1 }),
    ipv4Frame({
      dstMac: US_MAC,
      srcMac: PEER_MAC,
      src: PEER,
      dst: US,
      protocol: 17,
      payload: new Uint8Array(64),
      moreFragments: true,
      id: 77,
    }),
    ipv4Frame({
      dstMac: US_MAC,
      srcMac: PEER_MAC,
      src: PEER,
      dst: US,
      protocol: 17,
      payload: new Uint8Array(64),
      fragmentOffset: 64,
      id: 77,
    }),
  ];
  fc.assert(
    fc.property(
      fc.nat(bases.length - 1),
      fc.array(fc.tuple(fc.nat(200), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.integer({ min: -40, max: 40 }),
      (which, flips, stretch) => {
        const base = bases[which]!;
        const f = new Uint8Array(Math.max(0, base.length + stretch));
        f.set(base.subarray(0, f.length));
        for (const [at, v] of flips) if (at < f.length) f[at] = v;
        const before = accounted(r.stack.stats());
        const frames = r.stack.stats().rx.frames;
        r.link.deliver(f);
        const st = r.stack.stats();
        return st.rx.frames === frames + 1 && accounted(st) === before + 1;
      },
    ),
    { seed: 0x15eed, numRuns: 3000 },
  );
  t.pass();
  await r.close();
});

test('close: the timer stops, frames waiting for ARP are dropped (flushed) and their sends fail; later sends are ENETDOWN', async (t) => {
  const r = rig();
  const s = await bound(r);
  const done = new Promise<Error | null>((res) => s.send('x', 9, '10.0.0.50', (e) => res(e)));
  await tick();
  t.true(r.stack.timerArmed);
  r.stack.close();
  t.false(r.stack.timerArmed);
  t.like(await done, { code: 'ENETDOWN' });
  t.is(r.stack.stats().dropped['arp-flushed'], 1);
  t.is(r.link.txAvailable(), 64);
  r.link.deliver(udpIn(new Uint8Array(4)));
  t.is(r.stack.stats().rx.frames, 0, 'nothing comes in after close');
  await r.close();
});

test('a new address (netd ip_changed): datagrams leave from it, frames to the old one are not ours', async (t) => {
  const r = rig();
  const s = await bound(r);
  r.stack.setAddress(ipv4('10.0.1.2'), ipv4('10.0.1.1'), ipv4('255.255.255.0'));
  s.setBroadcast(true);
  s.send('x', 9, '255.255.255.255');
  await tick();
  t.is(parseUdp(r.link.sent[0]!).src, ipv4('10.0.1.2'));
  r.link.deliver(udpIn(new Uint8Array(4)));
  t.is(r.stack.stats().dropped['ip-not-for-us'], 1);
  t.throws(() => r.stack.setAddress(US, GW, ipv4('255.0.255.0')), { message: /not a contiguous mask/ });
  await r.close();
});

test('the link goes down: frames in flight fail their sends, and so does what waited for ARP', async (t) => {
  const r = rig();
  r.link.autoComplete = undefined;
  const s = await bound(r);
  r.link.deliver(arpFrom(ArpOp.REQUEST, PEER_MAC, PEER, US));
  const a = new Promise<Error | null>((res) => s.send('x', 9, '10.0.0.9', (e) => res(e)));
  const b = new Promise<Error | null>((res) => s.send('x', 9, '10.0.0.60', (e) => res(e)));
  await tick();
  r.link.down();
  t.like(await a, { code: 'ENETDOWN' });
  t.like(await b, { code: 'ENETDOWN' });
  const [e] = await new Promise<[Error | null]>((res) => s.send('x', 9, '10.0.0.9', (err) => res([err])));
  t.like(e, { code: 'ENETDOWN' });
  await r.close();
});

test('frames of the Ethernet minimum (padding after the IP datagram) are read to the IP length', async (t) => {
  const r = rig();
  const s = await bound(r);
  const f = udpIn(Buffer.from('ab'));
  const padded = new Uint8Array(60);
  padded.set(f);
  padded.fill(0xee, f.length);
  const got = once<[Buffer]>(s, 'message');
  r.link.deliver(padded);
  t.is((await got)[0].toString(), 'ab');
  const eth = new EthernetFrame();
  t.is(eth.attach(padded), undefined);
  await r.close();
});

test('setTTL: the datagrams of that socket leave with it; others keep the default', async (t) => {
  const r = rig({ ttl: 33 });
  const a = await bound(r, 7000);
  const b = await bound(r, 7001);
  r.link.deliver(arpFrom(ArpOp.REQUEST, PEER_MAC, PEER, US));
  t.is(a.setTTL(5), 5);
  a.send('a', 9, '10.0.0.9');
  b.send('b', 9, '10.0.0.9');
  await tick();
  t.is(parseUdp(r.link.sent[0]!).ttl, 5);
  t.is(parseUdp(r.link.sent[1]!).ttl, 33);
  await r.close();
});
