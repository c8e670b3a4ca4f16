// A varied set of frames for the wire-format, filter and libpcap tests: TCP, UDP,
// ICMP, ARP, fragments, VLAN tags, IP options, IPv6, truncated and malformed ones.
import {
  ArpOp,
  arpFrame,
  EtherType,
  icmpEchoFrame,
  ipv4,
  ipv4Frame,
  mac,
  TcpFlag,
  tcpFrame,
  udpFrame,
  writeEthernet,
} from '../../lib/net/index.ts';

export const HOST_MAC = mac('02:00:00:00:00:01');
export const PEER_MAC = mac('02:00:00:00:00:09');
export const OTHER_MAC = mac('02:00:00:00:00:05');
export const BCAST = mac('ff:ff:ff:ff:ff:ff');
export const HOST_IP = ipv4('10.0.0.2');
export const PEER_IP = ipv4('10.0.0.9');
export const OTHER_IP = ipv4('10.0.0.5');

export interface NamedFrame {
  readonly name: string;
  readonly bytes: Uint8Array;
}

const payload = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
const ipOptions = Uint8Array.from([0x94, 0x04, 0x00, 0x00]); // router alert

export function variedFrames(): NamedFrame[] {
  const out: NamedFrame[] = [];
  const add = (name: string, bytes: Uint8Array) => out.push({ name, bytes });
  for (const [dm, dmn] of [
    [HOST_MAC, 'to-host'],
    [BCAST, 'broadcast'],
    [OTHER_MAC, 'to-other'],
  ] as const) {
    for (const [dst, dn] of [
      [HOST_IP, 'host-ip'],
      [OTHER_IP, 'other-ip'],
      [ipv4('255.255.255.255'), 'bcast-ip'],
    ] as const) {
      for (const dport of [53, 5000, 5001, 68]) {
        add(
          `udp ${dmn} ${dn} :${dport}`,
          udpFrame({
            dstMac: dm,
            srcMac: PEER_MAC,
            src: PEER_IP,
            dst,
            srcPort: 40000,
            dstPort: dport,
            payload: payload(20),
          }),
        );
      }
      add(
        `tcp ${dmn} ${dn} :80`,
        tcpFrame({
          dstMac: dm,
          srcMac: PEER_MAC,
          src: PEER_IP,
          dst,
          srcPort: 40001,
          dstPort: 80,
          seq: 1,
          flags: TcpFlag.SYN,
        }),
      );
    }
  }
  add(
    'udp from host :5000',
    udpFrame({
      dstMac: PEER_MAC,
      srcMac: HOST_MAC,
      src: HOST_IP,
      dst: PEER_IP,
      srcPort: 5000,
      dstPort: 9,
      payload: payload(8),
    }),
  );
  add(
    'udp spoofed src ip',
    udpFrame({ dstMac: PEER_MAC, srcMac: HOST_MAC, src: OTHER_IP, dst: PEER_IP, srcPort: 5000, dstPort: 9 }),
  );
  add(
    'udp spoofed src mac',
    udpFrame({ dstMac: PEER_MAC, srcMac: OTHER_MAC, src: HOST_IP, dst: PEER_IP, srcPort: 5000, dstPort: 9 }),
  );
  add(
    'tcp from host :80',
    tcpFrame({
      dstMac: PEER_MAC,
      srcMac: HOST_MAC,
      src: HOST_IP,
      dst: PEER_IP,
      srcPort: 80,
      dstPort: 40001,
      seq: 9,
      ack: 2,
      flags: TcpFlag.SYN | TcpFlag.ACK,
      options: [
        { kind: 'mss', value: 1460 },
        { kind: 'sack-permitted' },
        { kind: 'timestamps', value: 1, echo: 0 },
        { kind: 'window-scale', shift: 7 },
      ],
    }),
  );
  add(
    'tcp with options to host :80',
    tcpFrame({
      dstMac: HOST_MAC,
      srcMac: PEER_MAC,
      src: PEER_IP,
      dst: HOST_IP,
      srcPort: 40002,
      dstPort: 80,
      seq: 5,
      flags: TcpFlag.ACK | TcpFlag.PSH,
      options: [{ kind: 'timestamps', value: 7, echo: 3 }],
      payload: payload(100),
    }),
  );
  add(
    'icmp echo to host',
    icmpEchoFrame({
      dstMac: HOST_MAC,
      srcMac: PEER_MAC,
      src: PEER_IP,
      dst: HOST_IP,
      type: 8,
      id: 1,
      seq: 1,
      payload: payload(32),
    }),
  );
  add(
    'icmp reply from host',
    icmpEchoFrame({
      dstMac: PEER_MAC,
      srcMac: HOST_MAC,
      src: HOST_IP,
      dst: PEER_IP,
      type: 0,
      id: 1,
      seq: 1,
      payload: payload(32),
    }),
  );
  add(
    'arp request for host',
    arpFrame({
      dstMac: BCAST,
      srcMac: PEER_MAC,
      op: ArpOp.REQUEST,
      senderMac: PEER_MAC,
      senderIp: PEER_IP,
      targetMac: mac('00:00:00:00:00:00'),
      targetIp: HOST_IP,
    }),
  );
  add(
    'arp reply from host',
    arpFrame({
      dstMac: PEER_MAC,
      srcMac: HOST_MAC,
      op: ArpOp.REPLY,
      senderMac: HOST_MAC,
      senderIp: HOST_IP,
      targetMac: PEER_MAC,
      targetIp: PEER_IP,
    }),
  );
  add(
    'arp reply spoofing host',
    arpFrame({
      dstMac: PEER_MAC,
      srcMac: HOST_MAC,
      op: ArpOp.REPLY,
      senderMac: OTHER_MAC,
      senderIp: HOST_IP,
      targetMac: PEER_MAC,
      targetIp: PEER_IP,
    }),
  );
  // Fragments of a UDP datagram to the host's port 5000.
  const whole = udpFrame({
    dstMac: HOST_MAC,
    srcMac: PEER_MAC,
    src: PEER_IP,
    dst: HOST_IP,
    srcPort: 40000,
    dstPort: 5000,
    payload: payload(64),
  });
  const udp = whole.subarray(34);
  add(
    'first fragment to host :5000',
    ipv4Frame({
      dstMac: HOST_MAC,
      srcMac: PEER_MAC,
      src: PEER_IP,
      dst: HOST_IP,
      protocol: 17,
      id: 77,
      moreFragments: true,
      payload: udp.slice(0, 40),
    }),
  );
  add(
    'later fragment to host',
    ipv4Frame({
      dstMac: HOST_MAC,
      srcMac: PEER_MAC,
      src: PEER_IP,
      dst: HOST_IP,
      protocol: 17,
      id: 77,
      fragmentOffset: 40,
      payload: udp.slice(40),
    }),
  );
  // A later fragment whose payload happens to hold the port at the place a port filter looks.
  const lookalike = udp.slice(0, 40);
  lookalike[2] = 5000 >> 8;
  lookalike[3] = 5000 & 0xff;
  add(
    'later fragment that looks like :5000',
    ipv4Frame({
      dstMac: HOST_MAC,
      srcMac: PEER_MAC,
      src: PEER_IP,
      dst: HOST_IP,
      protocol: 17,
      id: 78,
      fragmentOffset: 80,
      payload: lookalike,
    }),
  );
  // IP options: the transport header is 4 bytes further on.
  add(
    'udp with ip options to host :5000',
    udpFrame({
      dstMac: HOST_MAC,
      srcMac: PEER_MAC,
      src: PEER_IP,
      dst: HOST_IP,
      srcPort: 40000,
      dstPort: 5000,
      ipOptions,
      payload: payload(12),
    }),
  );
  add(
    'tcp with ip options to host :80',
    tcpFrame({
      dstMac: HOST_MAC,
      srcMac: PEER_MAC,
      src: PEER_IP,
      dst: HOST_IP,
      srcPort: 40003,
      dstPort: 80,
      seq: 1,
      flags: TcpFlag.SYN,
      ipOptions,
    }),
  );
  add(
    'udp with ip options from host :5000',
    udpFrame({
      dstMac: PEER_MAC,
      srcMac: HOST_MAC,
      src: HOST_IP,
      dst: PEER_IP,
      srcPort: 5000,
      dstPort: 9,
      ipOptions,
    }),
  );
  // VLAN-tagged: the ethertype at 12 is 0x8100.
  add(
    'vlan udp to host :5000',
    udpFrame({
      dstMac: HOST_MAC,
      srcMac: PEER_MAC,
      src: PEER_IP,
      dst: HOST_IP,
      srcPort: 40000,
      dstPort: 5000,
      vlans: [42],
    }),
  );
  add(
    'qinq udp to host :5000',
    udpFrame({
      dstMac: HOST_MAC,
      srcMac: PEER_MAC,
      src: PEER_IP,
      dst: HOST_IP,
      srcPort: 40000,
      dstPort: 5000,
      vlans: [7, 42],
    }),
  );
  // IPv6 (ethertype 0x86dd): a UDP header where IPv4 filters would not look for one.
  const v6 = new Uint8Array(14 + 40 + 8);
  writeEthernet(v6, 0, { dst: HOST_MAC, src: PEER_MAC, ethertype: EtherType.IPV6 });
  v6[14] = 0x60;
  v6[19] = 8;
  v6[20] = 17;
  v6[21] = 64;
  v6[56] = 5000 >> 8;
  v6[57] = 5000 & 0xff;
  add('ipv6 udp to :5000', v6);
  // Truncated and malformed.
  add('truncated ethernet', whole.slice(0, 10));
  add('truncated ip header', whole.slice(0, 30));
  add('truncated before ports', whole.slice(0, 35));
  add('truncated inside dport', whole.slice(0, 37));
  const badIhl = whole.slice();
  badIhl[14] = 0x43; // IHL 3
  add('ip header length 3', badIhl);
  const bigIhl = whole.slice();
  bigIhl[14] = 0x4f; // IHL 15: the "ports" are 40 bytes further on, past the end
  add('ip header length 15', bigIhl);
  const v5 = whole.slice();
  v5[14] = 0x55; // version 5
  add('ip version 5', v5);
  add('runt frame', new Uint8Array(0));
  return out;
}
