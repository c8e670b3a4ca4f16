// lib/net: views read back what builders write; malformed bytes give typed invalids, never exceptions.
import test from 'ava';
import fc from 'fast-check';
import {
  ArpPacket,
  checksumUpdate,
  EthernetFrame,
  formatIpv4,
  formatMac,
  IcmpPacket,
  Ipv4Packet,
  internetChecksum,
  ipv4,
  mac,
  port,
  readU16,
  TcpSegment,
  UdpDatagram,
  writeU16,
} from '../../lib/net/index.ts';
import { HOST_IP, HOST_MAC, PEER_IP, PEER_MAC, variedFrames } from '../helpers/frames.ts';

const frame = (name: string) => variedFrames().find((f) => f.name === name)!.bytes;

test('addresses parse and print; bad ones name the bad part', (t) => {
  t.is(formatMac(mac('02:AB:cd:00:00:ff')), '02:ab:cd:00:00:ff');
  t.is(formatMac(mac('ff-ff-ff-ff-ff-ff')), 'ff:ff:ff:ff:ff:ff');
  t.is(formatIpv4(ipv4('192.168.0.255')), '192.168.0.255');
  t.is(ipv4('10.0.0.1') as number, 0x0a000001);
  t.throws(() => mac('02:00:00:00:00'), { message: /expected 6 octets, got 5/ });
  t.throws(() => mac('02:00:00:00:00:zz'), { message: /octet 6 is 'zz'/ });
  t.throws(() => ipv4('10.0.0.256'), { message: /part 4 is '256'/ });
  t.throws(() => ipv4('10.0.01.1'), { message: /part 3 is '01'/ });
  t.throws(() => port(65536), { message: /bad port 65536/ });
});

test('UDP: every field reads back, checksums hold', (t) => {
  const f = frame('udp to-host host-ip :5000');
  const eth = new EthernetFrame();
  t.is(eth.attach(f), undefined);
  t.is(eth.dst, HOST_MAC);
  t.is(eth.src, PEER_MAC);
  t.is(eth.ethertype, 0x0800);
  const ip = new Ipv4Packet();
  t.is(ip.attach(f, eth.payloadOffset, f.length), undefined);
  t.is(ip.version, 4);
  t.is(ip.headerLength, 20);
  t.is(ip.protocol, 17);
  t.is(ip.src, PEER_IP);
  t.is(ip.dst, HOST_IP);
  t.is(ip.ttl, 64);
  t.false(ip.isFragment);
  t.true(ip.checksumValid());
  const udp = new UdpDatagram();
  t.is(udp.attach(f, ip.payloadOffset, ip.payloadOffset + ip.payloadLength), undefined);
  t.is(udp.srcPort, 40000);
  t.is(udp.dstPort, 5000);
  t.is(udp.payloadLength, 20);
  t.true(udp.checksumValid(ip.src, ip.dst));
  f[f.length - 1]! ^= 1;
  t.false(udp.checksumValid(ip.src, ip.dst), 'a flipped payload bit breaks the checksum');
});

test('TCP with options, ICMP, ARP, fragments, VLAN tags and IP options read back', (t) => {
  const tcp = frame('tcp from host :80');
  const ip = new Ipv4Packet();
  t.is(ip.attach(tcp, 14), undefined);
  const seg = new TcpSegment();
  t.is(seg.attach(tcp, ip.payloadOffset, ip.off + ip.totalLength), undefined);
  t.is(seg.srcPort, 80);
  t.is(seg.flags, 0x12);
  t.true(seg.checksumValid(ip.src, ip.dst));
  t.deepEqual(seg.options(), [
    { kind: 'mss', value: 1460 },
    { kind: 'sack-permitted' },
    { kind: 'timestamps', value: 1, echo: 0 },
    { kind: 'window-scale', shift: 7 },
  ]);

  const icmp = frame('icmp echo to host');
  const ic = new IcmpPacket();
  t.is(ic.attach(icmp, 34, icmp.length), undefined);
  t.is(ic.type, 8);
  t.is(ic.echoSeq, 1);
  t.true(ic.checksumValid());

  const arp = new ArpPacket();
  const a = frame('arp reply from host');
  t.is(arp.attach(a, 14), undefined);
  t.is(arp.op, 2);
  t.is(arp.senderMac, HOST_MAC);
  t.is(arp.targetIp, PEER_IP);

  const frag = frame('later fragment to host');
  t.is(ip.attach(frag, 14), undefined);
  t.true(ip.isFragment);
  t.is(ip.fragmentOffset, 40);
  t.false(ip.moreFragments);

  const eth = new EthernetFrame();
  const q = frame('qinq udp to host :5000');
  t.is(eth.attach(q), undefined);
  t.is(eth.tags, 2);
  t.is(eth.vlanId(0), 7);
  t.is(eth.vlanId(1), 42);
  t.is(eth.ethertype, 0x0800);
  t.is(eth.payloadOffset, 22);

  const opt = frame('udp with ip options to host :5000');
  t.is(ip.attach(opt, 14), undefined);
  t.is(ip.headerLength, 24);
  t.deepEqual(ip.options(), [{ type: 0x94, data: Uint8Array.from([0, 0]) }]);
  t.true(ip.checksumValid());
});

test('malformed headers are named, not thrown', (t) => {
  const ip = new Ipv4Packet();
  t.is(ip.attach(frame('ip header length 3'), 14), 'bad-header-length');
  t.is(ip.attach(frame('ip version 5'), 14), 'bad-version');
  t.is(ip.attach(frame('truncated ip header'), 14), 'truncated');
  const long = frame('udp to-host host-ip :5000').slice();
  writeU16(long, 16, 2000);
  t.is(ip.attach(long, 14), 'bad-total-length');
  const udp = new UdpDatagram();
  const u = frame('udp to-host host-ip :5000').slice();
  writeU16(u, 38, 4);
  t.is(udp.attach(u, 34), 'bad-length');
  const tcp = new TcpSegment();
  const s = frame('tcp from host :80').slice();
  s[34 + 12] = 0x40; // data offset 4
  t.is(tcp.attach(s, 34), 'bad-data-offset');
  const o = frame('tcp from host :80').slice();
  o[34 + 20 + 1] = 40; // the MSS option claims 40 bytes
  t.is(tcp.attach(o, 34), undefined);
  t.is(tcp.options(), 'bad-option');
  t.is(new EthernetFrame().attach(new Uint8Array(13)), 'truncated');
  t.is(new ArpPacket().attach(frame('udp to-host host-ip :5000'), 14), 'unsupported');
});

test('any prefix and any random bytes: views answer with a typed result and never throw', (t) => {
  const views = [
    new EthernetFrame(),
    new Ipv4Packet(),
    new UdpDatagram(),
    new TcpSegment(),
    new IcmpPacket(),
    new ArpPacket(),
  ];
  const invalids = new Set([
    undefined,
    'truncated',
    'bad-version',
    'bad-header-length',
    'bad-total-length',
    'bad-length',
    'bad-data-offset',
    'bad-option',
    'unsupported',
  ]);
  const check = (b: Uint8Array, off: number) => {
    for (const v of views) {
      const r = v instanceof EthernetFrame ? v.attach(b) : v.attach(b, off, b.length);
      if (!invalids.has(r)) return false;
      if (r === undefined && v instanceof TcpSegment) v.options();
      if (r === undefined && v instanceof Ipv4Packet) v.options();
    }
    return true;
  };
  for (const f of variedFrames())
    for (let n = 0; n <= f.bytes.length; n++) t.true(check(f.bytes.subarray(0, n), 14));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.nat(40), (b, off) => check(b, off)),
    { numRuns: 5000 },
  );
});

test('incremental checksum update (RFC 1624) equals recomputing', (t) => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 2, maxLength: 80 }),
      fc.nat(),
      fc.integer({ min: 0, max: 0xffff }),
      (b, at, now) => {
        const buf = b.length % 2 ? Uint8Array.from([...b, 0]) : b.slice();
        const i = (at % (buf.length / 2)) * 2;
        const before = internetChecksum(buf, 0, buf.length);
        const old = readU16(buf, i);
        writeU16(buf, i, now);
        const updated = checksumUpdate(before, old, now);
        const recomputed = internetChecksum(buf, 0, buf.length);
        // The one exception: data that became all zeros, where recomputing gives -0
        // (0xffff) and the update +0 (0x0000); both mean zero in one's complement.
        if (buf.every((x) => x === 0)) return updated === 0 && recomputed === 0xffff;
        return updated === recomputed;
      },
    ),
    { numRuns: 5000 },
  );
  t.pass();
});
