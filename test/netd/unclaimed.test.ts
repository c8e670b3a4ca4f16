// What no filter claims, netd answers: ARP for its address, ping, a UDP datagram to a
// closed port (ICMP port unreachable), a TCP segment to a closed port (RST), each
// checked on the wire as a peer sees it (and in the link's capture, read back).
// Malformed frames are counted by cause.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import {
  ArpOp,
  ArpPacket,
  arpFrame,
  BROADCAST_MAC,
  EthernetFrame,
  IcmpPacket,
  IcmpType,
  IpProtocol,
  type Ipv4Addr,
  Ipv4Packet,
  icmpEchoFrame,
  ipv4,
  type Mac,
  mac,
  PcapReader,
  TcpFlag,
  TcpSegment,
  tcpFrame,
  udpFrame,
} from '../../lib/net/index.ts';
import { withNetd } from '../helpers/netd.ts';
import { eventually } from '../helpers/runtime.ts';

const PEER_MAC = mac('02:00:00:00:00:99');
const PEER_IP = ipv4('10.0.0.9');
const MACHINE_IP = ipv4('10.0.0.2');

/** The frames on the wire from the machine to the peer, parsed. */
function fromMachine(frames: Uint8Array[], machineMac: number) {
  const eth = new EthernetFrame();
  return frames.filter((f) => !eth.attach(f) && eth.src === machineMac);
}

test('ARP for the machine, ping, a closed UDP port, a closed TCP port: answered as a host would', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fishnet-unclaimed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true })); // whatever throws on the way
  const pcapFile = join(dir, 'm1.pcap');
  let machineMac = 0;
  await withNetd(
    t,
    async (r) => {
      machineMac = r.m.mac;
      const before = r.onWire.length;
      r.wire.send(
        arpFrame({
          dstMac: BROADCAST_MAC,
          srcMac: PEER_MAC,
          op: ArpOp.REQUEST,
          senderMac: PEER_MAC,
          senderIp: PEER_IP,
          targetMac: 0 as Mac,
          targetIp: MACHINE_IP,
        }),
      );
      r.wire.send(
        icmpEchoFrame({
          dstMac: r.m.mac,
          srcMac: PEER_MAC,
          src: PEER_IP,
          dst: MACHINE_IP,
          type: IcmpType.ECHO_REQUEST,
          id: 77,
          seq: 3,
          payload: new Uint8Array([9, 8, 7, 6]),
        }),
      );
      r.wire.send(
        udpFrame({
          dstMac: r.m.mac,
          srcMac: PEER_MAC,
          src: PEER_IP,
          dst: MACHINE_IP,
          srcPort: 5353,
          dstPort: 4444,
        }),
      );
      r.wire.send(
        tcpFrame({
          dstMac: r.m.mac,
          srcMac: PEER_MAC,
          src: PEER_IP,
          dst: MACHINE_IP,
          srcPort: 40000,
          dstPort: 80,
          seq: 1000,
          flags: TcpFlag.SYN,
        }),
      );
      t.true(await eventually(() => fromMachine(r.onWire.slice(before), r.m.mac).length >= 4));
      const replies = fromMachine(r.onWire.slice(before), r.m.mac);
      const eth = new EthernetFrame();
      const arp = new ArpPacket();
      const ip = new Ipv4Packet();
      const icmp = new IcmpPacket();
      const tcp = new TcpSegment();
      const kinds: string[] = [];
      for (const f of replies) {
        eth.attach(f);
        t.is(eth.dst, PEER_MAC, 'every answer goes to the asker');
        if (eth.ethertype === 0x0806) {
          arp.attach(f, 14);
          t.is(arp.op, ArpOp.REPLY);
          t.is(arp.senderIp, MACHINE_IP);
          t.is(arp.senderMac, r.m.mac);
          kinds.push('arp reply');
          continue;
        }
        t.falsy(ip.attach(f, 14));
        t.true(ip.checksumValid());
        t.is(ip.src, MACHINE_IP);
        t.is(ip.dst, PEER_IP as Ipv4Addr);
        if (ip.protocol === IpProtocol.ICMP) {
          icmp.attach(f, ip.payloadOffset, 14 + ip.totalLength);
          t.true(icmp.checksumValid());
          if (icmp.type === IcmpType.ECHO_REPLY) {
            t.is(icmp.echoId, 77);
            t.is(icmp.echoSeq, 3);
            t.deepEqual(Array.from(f.subarray(icmp.payloadOffset, 14 + ip.totalLength)), [9, 8, 7, 6]);
            kinds.push('echo reply');
          } else {
            t.is(icmp.type, IcmpType.UNREACHABLE);
            t.is(icmp.code, 3);
            // It quotes the datagram it answers: the IP header and the UDP header.
            const q = icmp.payloadOffset;
            t.is((f[q + 20 + 2]! << 8) | f[q + 20 + 3]!, 4444);
            kinds.push('port unreachable');
          }
        } else if (ip.protocol === IpProtocol.TCP) {
          tcp.attach(f, ip.payloadOffset, 14 + ip.totalLength);
          t.true(tcp.checksumValid(ip.src, ip.dst));
          t.is(tcp.flags, TcpFlag.RST | TcpFlag.ACK);
          t.is(tcp.ack, 1001);
          t.is(tcp.srcPort, 80);
          t.is(tcp.dstPort, 40000);
          kinds.push('rst');
        }
      }
      t.deepEqual(kinds.sort(), ['arp reply', 'echo reply', 'port unreachable', 'rst']);
      // Malformed: a bad IP checksum, a truncated UDP header; and a protocol netd does not serve.
      const bad = udpFrame({
        dstMac: r.m.mac,
        srcMac: PEER_MAC,
        src: PEER_IP,
        dst: MACHINE_IP,
        srcPort: 1,
        dstPort: 2,
      });
      bad[24] ^= 0xff;
      r.wire.send(bad);
      const cut = udpFrame({
        dstMac: r.m.mac,
        srcMac: PEER_MAC,
        src: PEER_IP,
        dst: MACHINE_IP,
        srcPort: 1,
        dstPort: 2,
      });
      r.wire.send(cut.slice(0, 38));
      const s = async () =>
        (
          (await r.netd().api.statistics()) as {
            stack: { malformed: Record<string, number>; echoReplies: number };
          }
        ).stack;
      t.true(
        await eventually(async () => Object.values((await s()).malformed).reduce((a, b) => a + b, 0) >= 2),
      );
      t.is((await s()).malformed['ipv4: bad header checksum'], 1);
    },
    { pcap: pcapFile },
  );
  // The same answers, read back from the link's capture (written as the frames passed).
  try {
    const opened = PcapReader.open(readFileSync(pcapFile));
    if (!opened.ok) throw new Error(opened.error);
    const all = opened.value.readAll();
    if (!all.ok) throw new Error(all.error);
    const out = fromMachine(
      all.value.map((rec) => rec.data),
      machineMac,
    );
    const eth = new EthernetFrame();
    const ip = new Ipv4Packet();
    const protos = out.map((f) => {
      eth.attach(f);
      if (eth.ethertype === 0x0806) return 'arp';
      ip.attach(f, 14);
      return ip.protocol === IpProtocol.ICMP
        ? `icmp ${f[ip.payloadOffset]}`
        : ip.protocol === IpProtocol.TCP
          ? 'tcp'
          : 'other';
    });
    for (const want of ['arp', 'icmp 0', 'icmp 3', 'tcp'])
      t.true(protos.includes(want), `${want} in ${protos.join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
