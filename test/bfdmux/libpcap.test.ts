// Differential tests against libpcap: for every builder, the equivalent pcap-filter
// expression; every frame's verdict must equal tcpdump's (`tcpdump -r in -w out EXPR`).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
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
  ipv4UdpFilter,
  jitFilter,
  portRxFilter,
  portTxFilter,
  srcMacFilter,
  tcpFilter,
  udpFilter,
} from '../../lib/bfdmux/index.ts';
import { PcapReader, PcapWriter, port, writeEthernet, writeU16, writeU32 } from '../../lib/net/index.ts';
import { HOST_IP, HOST_MAC, PEER_IP, PEER_MAC, variedFrames } from '../helpers/frames.ts';
import { needs } from '../helpers/tools.ts';

const H = '02:00:00:00:00:01';
const P = '02:00:00:00:00:09';
const v4 = 'ip[0] & 0xf0 = 0x40';

/** builder expression, pcap-filter expression */
const pairs: [string, string, string][] = [
  ['dst mac', dstMacFilter(HOST_MAC), `ether dst ${H}`],
  ['src mac', srcMacFilter(PEER_MAC), `ether src ${P}`],
  ['ipv4 src and dst', ipv4Filter(PEER_IP, HOST_IP), 'ip src 10.0.0.9 and ip dst 10.0.0.2'],
  ['ipv4 dst', ipv4Filter(ANY, HOST_IP), 'ip dst 10.0.0.2'],
  ['icmp', icmpFilter(), 'icmp'],
  ['tcp dst port', tcpFilter(ANY, port(80)), 'ip and tcp dst port 80'],
  ['udp src port', udpFilter(port(5000), ANY), 'ip and udp src port 5000'],
  ['udp both ports', udpFilter(port(40000), port(5000)), 'ip and udp src port 40000 and udp dst port 5000'],
  [
    'udp dst port, 20-byte header',
    udpFilter(ANY, port(5000), { ipHeader: 'fixed20' }),
    `ip and udp dst port 5000 and ip[0] = 0x45`,
  ],
  [
    'ipv4 udp',
    ipv4UdpFilter(PEER_IP, HOST_IP, ANY, port(53)),
    'ip src 10.0.0.9 and ip dst 10.0.0.2 and udp dst port 53',
  ],
  [
    'ether dst ipv4 udp',
    etherDstIpv4UdpFilter(HOST_MAC, ANY, HOST_IP, ANY, port(5000)),
    `ether dst ${H} and ip dst 10.0.0.2 and udp dst port 5000`,
  ],
  [
    'ether src ipv4 tcp',
    etherSrcIpv4TcpFilter(HOST_MAC, HOST_IP, ANY, port(80), ANY),
    `ether src ${H} and ip src 10.0.0.2 and tcp src port 80`,
  ],
  ['arp', arpFilter(), 'arp'],
  [
    'arp transmit',
    arpTransmitFilter(HOST_MAC),
    `arp and ether src ${H} and arp[8:4] = 0x02000000 and arp[12:2] = 0x0001`,
  ],
  [
    'netd rx udp',
    portRxFilter({ mac: HOST_MAC, ip: HOST_IP, type: 'udp', port: port(5000) }),
    `ether dst ${H} and ip dst 10.0.0.2 and ${v4} and udp dst port 5000`,
  ],
  [
    'netd rx tcp',
    portRxFilter({ mac: HOST_MAC, ip: HOST_IP, type: 'tcp', port: port(80) }),
    `ether dst ${H} and ip dst 10.0.0.2 and ${v4} and tcp dst port 80`,
  ],
  [
    'netd rx udp broadcast',
    portRxFilter({ mac: HOST_MAC, ip: HOST_IP, type: 'udp', port: port(68), broadcast: true }),
    `(ether dst ${H} or ether broadcast) and (ip dst 10.0.0.2 or ip dst 255.255.255.255) and ${v4} and udp dst port 68`,
  ],
  [
    'netd tx udp',
    portTxFilter({ mac: HOST_MAC, ip: HOST_IP, type: 'udp', port: port(5000) }),
    `ether src ${H} and ip src 10.0.0.2 and ${v4} and udp src port 5000`,
  ],
  [
    'netd tx tcp, 20-byte header',
    portTxFilter({ mac: HOST_MAC, ip: HOST_IP, type: 'tcp', port: port(80), ipHeader: 'fixed20' }),
    `ether src ${H} and ip src 10.0.0.2 and ip[0] = 0x45 and tcp src port 80`,
  ],
];

/** Random frames that stress the places filters look: ethertypes, header lengths, fragments, protocols, ports, lengths. */
function randomFrames(n: number): Uint8Array[] {
  const frame = fc.record({
    dst: fc.constantFrom(HOST_MAC, PEER_MAC, 0xffff_ffff_ffff),
    src: fc.constantFrom(HOST_MAC, PEER_MAC),
    type: fc.constantFrom(0x0800, 0x0800, 0x0800, 0x0806, 0x8100, 0x86dd, 0x1234),
    vihl: fc.oneof(fc.constant(0x45), fc.constant(0x46), fc.constant(0x4f), fc.integer({ min: 0, max: 255 })),
    frag: fc.constantFrom(0, 0x2000, 0x0005, 0x2005, 0x4000, 0x1fff),
    proto: fc.constantFrom(1, 6, 17, 17, 47),
    srcIp: fc.constantFrom(HOST_IP, PEER_IP, 0xffffffff),
    dstIp: fc.constantFrom(HOST_IP, PEER_IP, 0xffffffff),
    sport: fc.constantFrom(53, 80, 5000, 40000, 68),
    dport: fc.constantFrom(53, 80, 5000, 40000, 68),
    len: fc.integer({ min: 0, max: 100 }),
    arpSha: fc.constantFrom(HOST_MAC, PEER_MAC),
  });
  return fc.sample(frame, { numRuns: n, seed: 4242 }).map((f) => {
    const b = new Uint8Array(100);
    writeEthernet(b, 0, { dst: f.dst as never, src: f.src as never, ethertype: f.type });
    if (f.type === 0x0806) {
      b.set([0, 1, 8, 0, 6, 4, 0, 2], 14);
      const sha = f.arpSha;
      writeU16(b, 22, Math.floor(sha / 2 ** 32));
      writeU32(b, 24, sha >>> 0);
    } else {
      b[14] = f.vihl;
      writeU16(b, 20, f.frag);
      b[23] = f.proto;
      writeU32(b, 26, f.srcIp);
      writeU32(b, 30, f.dstIp);
      const l4 = 14 + (f.vihl & 15) * 4;
      if (l4 + 4 <= 100) {
        writeU16(b, l4, f.sport);
        writeU16(b, l4 + 2, f.dport);
      }
      writeU16(b, 34, f.sport); // also where a 20-byte header would put it
      writeU16(b, 36, f.dport);
    }
    return b.slice(0, f.len);
  });
}

needs('tcpdump')('every builder gives the same verdict as libpcap on every frame', (t) => {
  const frames = [...variedFrames().map((f) => f.bytes), ...randomFrames(400)].filter((f) => f.length > 0);
  const dir = mkdtempSync(join(tmpdir(), 'fishnet-libpcap-'));
  try {
    const w = new PcapWriter();
    for (const [i, f] of frames.entries()) w.add(f, i * 1000);
    const input = join(dir, 'in.pcap');
    w.writeFile(input);
    for (const [name, ours, theirs] of pairs) {
      const output = join(dir, 'out.pcap');
      execFileSync('tcpdump', ['-r', input, '-w', output, theirs], { stdio: 'ignore' });
      const r = PcapReader.open(new Uint8Array(readFileSync(output)));
      if (!r.ok) return t.fail(r.error);
      const all = r.value.readAll();
      if (!all.ok) return t.fail(all.error);
      const pcapMatches = all.value.map((rec) => rec.seconds);
      const f = compileFilter(ours);
      const jit = jitFilter(f.program);
      const ourMatches = frames.flatMap((fr, i) => {
        const v = executeFilter(f.code, fr);
        if (v !== jit(fr, fr.length)) throw new Error(`${name}: VM and JIT disagree on frame ${i}`);
        return v === 1 ? [i] : [];
      });
      t.deepEqual(ourMatches, pcapMatches, `${name}: ${ours}  vs  ${theirs}`);
      t.true(pcapMatches.length > 0, `${name} matches some frames`);
      t.true(pcapMatches.length < frames.length, `${name} refuses some frames`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the deliberate difference: a 20-byte-header filter refuses what libpcap takes when IP options are present', (t) => {
  const frames = variedFrames();
  const fixed = compileFilter(udpFilter(ANY, port(5000), { ipHeader: 'fixed20' }));
  const follows = compileFilter(udpFilter(ANY, port(5000)));
  const differ = frames
    .filter((f) => executeFilter(fixed.code, f.bytes) !== executeFilter(follows.code, f.bytes))
    .map((f) => f.name);
  // ip[0] = 0x45 also checks the version: the version-5 frame is refused too.
  t.deepEqual(differ, ['udp with ip options to host :5000', 'ip version 5']);
});
