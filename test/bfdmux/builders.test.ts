// The builders, on the varied frames: each filter matches exactly the frames it should.
import test from 'ava';
import {
  ANY,
  arpFilter,
  arpTransmitFilter,
  compileFilter,
  dstMacFilter,
  etherDstIpv4UdpFilter,
  etherSrcIpv4TcpFilter,
  executeFilter,
  icmpFilter,
  ipv4Filter,
  jitFilter,
  portRxFilter,
  portTxFilter,
  tcpFilter,
  udpFilter,
} from '../../lib/bfdmux/index.ts';
import { BROADCAST_MAC, ipv4, port, udpFrame } from '../../lib/net/index.ts';
import { HOST_IP, HOST_MAC, PEER_IP, PEER_MAC, variedFrames } from '../helpers/frames.ts';

const frames = variedFrames();

/** The names of the frames a filter matches (VM and JIT must agree). */
function matches(expr: string): string[] {
  const f = compileFilter(expr);
  const jit = jitFilter(f.program);
  return frames
    .filter((fr) => {
      const vm = executeFilter(f.code, fr.bytes);
      if (vm !== jit(fr.bytes, fr.bytes.length))
        throw new Error(`${expr}: VM and JIT disagree on ${fr.name}`);
      return vm === 1;
    })
    .map((fr) => fr.name);
}

test("netd's receive filter for UDP port 5000: to our MAC and IP, unfragmented or a first fragment, with IP options too", (t) => {
  t.deepEqual(matches(portRxFilter({ mac: HOST_MAC, ip: HOST_IP, type: 'udp', port: port(5000) })), [
    'udp to-host host-ip :5000',
    'first fragment to host :5000',
    'udp with ip options to host :5000',
  ]);
});

test('the fixed20 variant says what it assumes: a packet with IP options does not match', (t) => {
  t.deepEqual(
    matches(portRxFilter({ mac: HOST_MAC, ip: HOST_IP, type: 'udp', port: port(5000), ipHeader: 'fixed20' })),
    ['udp to-host host-ip :5000', 'first fragment to host :5000'],
  );
});

test('the broadcast variant (DHCP) also takes the broadcast MAC and address', (t) => {
  t.deepEqual(
    matches(portRxFilter({ mac: HOST_MAC, ip: HOST_IP, type: 'udp', port: port(68), broadcast: true })),
    [
      'udp to-host host-ip :68',
      'udp to-host bcast-ip :68',
      'udp broadcast host-ip :68',
      'udp broadcast bcast-ip :68',
    ],
  );
});

test("with the subnet's directed broadcast: 10.0.0.255 at the broadcast MAC too, and no other address", (t) => {
  const spec = { mac: HOST_MAC, ip: HOST_IP, type: 'udp', port: port(68), broadcast: true } as const;
  const f = compileFilter(portRxFilter({ ...spec, subnetBroadcast: ipv4('10.0.0.255') }));
  const to = (dst: string) =>
    executeFilter(
      f.code,
      udpFrame({
        dstMac: BROADCAST_MAC,
        srcMac: PEER_MAC,
        src: PEER_IP,
        dst: ipv4(dst),
        srcPort: 67,
        dstPort: 68,
      }),
    );
  t.is(to('10.0.0.255'), 1);
  t.is(to('255.255.255.255'), 1);
  t.is(to('10.0.0.254'), 0, 'another host');
  t.is(to('10.0.1.255'), 0, "another subnet's broadcast");
  // The same frames as without it, apart from that address.
  t.deepEqual(
    matches(portRxFilter({ ...spec, subnetBroadcast: ipv4('10.0.0.255') })),
    matches(portRxFilter(spec)),
  );
  t.throws(() => portRxFilter({ ...spec, broadcast: false, subnetBroadcast: ipv4('10.0.0.255') }), {
    message: /subnetBroadcast is given without broadcast/,
  });
  t.throws(() => portRxFilter({ ...spec, subnetBroadcast: -1 as never }), {
    message: /portRxFilter subnetBroadcast: not an IPv4 address \(-1\)/,
  });
});

test("netd's transmit filter: only from our MAC, our IP, our port", (t) => {
  t.deepEqual(matches(portTxFilter({ mac: HOST_MAC, ip: HOST_IP, type: 'udp', port: port(5000) })), [
    'udp from host :5000',
    'udp with ip options from host :5000',
  ]);
  t.deepEqual(matches(portTxFilter({ mac: HOST_MAC, ip: HOST_IP, type: 'tcp', port: port(80) })), [
    'tcp from host :80',
  ]);
});

test('ARP: every ARP frame; and the transmit filter refuses ARP spoofing', (t) => {
  t.deepEqual(matches(arpFilter()), [
    'arp request for host',
    'arp reply from host',
    'arp reply spoofing host',
  ]);
  t.deepEqual(matches(arpTransmitFilter(HOST_MAC)), ['arp reply from host']);
  t.deepEqual(matches(arpTransmitFilter(HOST_MAC, HOST_IP)), ['arp reply from host']);
  // The sender's address must be ours: claiming the peer's address for our MAC is refused.
  t.deepEqual(matches(arpTransmitFilter(HOST_MAC, PEER_IP)), []);
  t.throws(() => arpTransmitFilter(HOST_MAC, -1 as never), { message: /arpTransmitFilter ip/ });
});

test('the tools.h family: mac, ipv4, icmp, tcp, udp and their compositions', (t) => {
  t.true(
    matches(dstMacFilter(HOST_MAC)).every(
      (n) =>
        /to-host|to host|for host/.test(n) ||
        n.includes('ipv6') ||
        n.startsWith('vlan') ||
        n.startsWith('qinq') ||
        n.startsWith('tcp with') ||
        n.startsWith('icmp echo') ||
        n.startsWith('udp with ip options to') ||
        n.includes('fragment') ||
        n.startsWith('truncated') ||
        n.startsWith('ip '),
    ),
  );
  t.is(matches(dstMacFilter(ANY)).length, frames.length, 'ANY matches everything');
  t.deepEqual(matches(icmpFilter()), ['icmp echo to host', 'icmp reply from host']);
  t.deepEqual(matches(tcpFilter(ANY, port(80))), [
    'tcp to-host host-ip :80',
    'tcp to-host other-ip :80',
    'tcp to-host bcast-ip :80',
    'tcp broadcast host-ip :80',
    'tcp broadcast other-ip :80',
    'tcp broadcast bcast-ip :80',
    'tcp to-other host-ip :80',
    'tcp to-other other-ip :80',
    'tcp to-other bcast-ip :80',
    'tcp with options to host :80',
    'tcp with ip options to host :80',
  ]);
  t.deepEqual(matches(udpFilter(port(5000), ANY)), [
    'udp from host :5000',
    'udp spoofed src ip',
    'udp spoofed src mac',
    'udp with ip options from host :5000',
  ]);
  // As with libpcap's `ip src X and ip dst Y`: malformed frames match as long as the addresses can be read.
  t.deepEqual(matches(ipv4Filter(PEER_IP, HOST_IP)).length, 27);
  t.deepEqual(
    matches(ipv4Filter(PEER_IP, HOST_IP)).filter(
      (n) => !/^(udp|tcp) (to-host|broadcast|to-other) host-ip/.test(n),
    ),
    [
      'tcp with options to host :80',
      'icmp echo to host',
      'first fragment to host :5000',
      'later fragment to host',
      'later fragment that looks like :5000',
      'udp with ip options to host :5000',
      'tcp with ip options to host :80',
      'truncated before ports',
      'truncated inside dport',
      'ip header length 3',
      'ip header length 15',
      'ip version 5',
    ],
  );
  t.deepEqual(matches(etherDstIpv4UdpFilter(HOST_MAC, PEER_IP, HOST_IP, ANY, port(53))), [
    'udp to-host host-ip :53',
  ]);
  t.deepEqual(matches(etherSrcIpv4TcpFilter(HOST_MAC, HOST_IP, ANY, port(80), ANY)), ['tcp from host :80']);
});

test('builders refuse arguments of the wrong kind', (t) => {
  t.throws(() => dstMacFilter(-1 as never), { message: /not a MAC address/ });
  t.throws(() => ipv4Filter((2 ** 32) as never, ANY), { message: /not an IPv4 address/ });
  t.throws(() => udpFilter(70000 as never, ANY), { message: /not a port/ });
  t.throws(() => portRxFilter({ mac: HOST_MAC, ip: HOST_IP, type: 'sctp' as never, port: port(1) }), {
    message: /'tcp' or 'udp'/,
  });
  t.throws(() => tcpFilter(ANY, port(1), { ipHeader: 'maybe' as never }), { message: /ipHeader must be/ });
});
