// Protocol logic benchmark: parsing a DHCP message, the DHCP server's handling of a
// DISCOVER (and of a flood while its pool is exhausted), ARP cache hits, writing IPv4
// fragments into a buffer, and reassembling them. Results: bench/results/proto.json.
import { DhcpServer } from '../lib/dhcp/server.ts';
import { ArpCache } from '../lib/lwip/arp-cache.ts';
import { fragmentCount, fragmentIpv4, writeFragment } from '../lib/lwip/ipv4-fragment.ts';
import { Ipv4Reassembler } from '../lib/lwip/ipv4-reassembly.ts';
import {
  ArpOp,
  ArpPacket,
  buildDhcp,
  DhcpMessage,
  DhcpMessageType,
  DhcpOp,
  type Ipv4Addr,
  ipv4,
  type Mac,
  mac,
  writeArp,
  writeIpv4,
} from '../lib/net/index.ts';
import { writeResult } from './stats.ts';

const quick = process.argv.includes('--quick');
const ROUNDS = 7;
const BUDGET_MS = quick ? 200 : 1000;

interface Timing {
  /** Nanoseconds per operation: the median round, and the spread. */
  readonly ns: number;
  readonly best: number;
  readonly worst: number;
}

/** ns per call of `op` (which does `per` operations), median of ROUNDS rounds after a warm-up. */
function time(op: () => void, per = 1): Timing {
  const round = (ms: number) => {
    let n = 0;
    const t0 = process.hrtime.bigint();
    const stop = t0 + BigInt(Math.round(ms * 1e6));
    let t = t0;
    while (t < stop) {
      for (let i = 0; i < 64; i++) op();
      n += 64;
      t = process.hrtime.bigint();
    }
    return Number(t - t0) / (n * per);
  };
  round(BUDGET_MS / 4);
  const rs = Array.from({ length: ROUNDS }, () => round(BUDGET_MS / ROUNDS)).sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { ns: r(rs[ROUNDS >> 1]!), best: r(rs[0]!), worst: r(rs[ROUNDS - 1]!) };
}

const SERVER = ipv4('10.0.0.1');
const CLIENT = mac('02:00:00:00:00:42');

function dhcpParse(): Timing {
  const bytes = buildDhcp({
    op: DhcpOp.BOOTREPLY,
    xid: 0x12345678,
    chaddr: CLIENT,
    yiaddr: ipv4('10.0.0.100'),
    messageType: DhcpMessageType.ACK,
    serverId: SERVER,
    leaseTime: 3600,
    renewalTime: 1800,
    rebindingTime: 3150,
    subnetMask: ipv4('255.255.255.0'),
    routers: [SERVER],
    dns: [ipv4('10.0.0.53')],
    hostName: 'fishnet',
  });
  const m = new DhcpMessage();
  let sink = 0;
  const t = time(() => {
    if (m.attach(bytes) !== undefined) throw new Error('bad message');
    sink += (m.messageType ?? 0) + (m.serverId ?? 0) + (m.leaseTime ?? 0) + (m.router ?? 0) + m.xid;
  });
  if (sink === 42) console.log('');
  return t;
}

function dhcpServer(): { discover: Timing; exhaustedDiscover: Timing } {
  // A /16 pool: a DISCOVER from a new client each time (the pool is big enough for the run).
  const s = new DhcpServer({
    serverId: SERVER,
    subnetMask: ipv4('255.255.0.0'),
    poolStart: ipv4('10.0.1.0'),
    poolEnd: ipv4('10.0.255.254'),
    offerHoldMs: 1,
  });
  const m = new DhcpMessage();
  const discovers = Array.from({ length: 4096 }, (_, i) => {
    const b = buildDhcp({
      op: DhcpOp.BOOTREQUEST,
      xid: i,
      chaddr: (0x0200_0000_0000 + i) as Mac,
      messageType: DhcpMessageType.DISCOVER,
      broadcast: true,
    });
    return b;
  });
  let i = 0;
  let now = 0;
  const discover = time(() => {
    m.attach(discovers[i++ & 4095]!);
    s.receive(m, (now += 2)); // offers lapse: addresses cycle
  });
  // A tiny pool, exhausted: every DISCOVER is refused.
  const small = new DhcpServer({
    serverId: SERVER,
    subnetMask: ipv4('255.255.255.0'),
    poolStart: ipv4('10.0.0.100'),
    poolEnd: ipv4('10.0.0.101'),
  });
  for (const b of discovers.slice(0, 2)) {
    m.attach(b);
    small.receive(m, 0);
  }
  const exhaustedDiscover = time(() => {
    m.attach(discovers[2 + (i++ % 4000)]!);
    if (small.receive(m, 1) !== undefined) throw new Error('offered from an exhausted pool');
  });
  return { discover, exhaustedDiscover };
}

function arpHit(): Timing {
  const c = new ArpCache({ mac: mac('02:00:00:00:00:01'), ip: ipv4('10.0.0.2'), reachableMs: 1e12 });
  const b = new Uint8Array(28);
  const p = new ArpPacket();
  for (let i = 0; i < 256; i++) {
    writeArp(b, 0, {
      op: ArpOp.REQUEST,
      senderMac: (0x0200_0000_1000 + i) as Mac,
      senderIp: (0x0a000100 + i) as Ipv4Addr,
      targetMac: 0 as Mac,
      targetIp: ipv4('10.0.0.2'),
    });
    p.attach(b, 0);
    c.input(p, 0);
  }
  let i = 0;
  let sink = 0;
  const t = time(() => {
    sink += c.lookup((0x0a000100 + (i++ & 255)) as Ipv4Addr, 1) ?? 0;
  });
  if (sink === 42) console.log('');
  return t;
}

function datagram(n: number, id: number): Uint8Array {
  const b = new Uint8Array(20 + n);
  writeIpv4(b, 0, { src: ipv4('10.0.0.9'), dst: ipv4('10.0.0.2'), protocol: 17, payloadLength: n, id });
  for (let i = 20; i < b.length; i++) b[i] = i & 0xff;
  return b;
}

function fragmenting(): { perFragment: Timing; fragments: number } {
  const d = datagram(8972, 1); // a 9000-byte jumbo datagram sent over a 1500-byte link
  const n = fragmentCount(d, 1500) as number;
  const pbuf = new Uint8Array(2048);
  let k = 0;
  const perFragment = time(() => {
    writeFragment(d, 1500, k, pbuf, 0);
    k = (k + 1) % n;
  });
  return { perFragment, fragments: n };
}

function reassembling(): { perDatagram: Timing; fragments: number } {
  const r = new Ipv4Reassembler();
  const sets = Array.from({ length: 64 }, (_, id) => {
    const res = fragmentIpv4(datagram(8972, id), 1500);
    if (!res.ok) throw new Error(res.error);
    return res.fragments.reverse(); // out of order
  });
  let k = 0;
  const perDatagram = time(() => {
    const fs = sets[k++ & 63]!;
    let done = false;
    for (const f of fs) done = r.input(f, 0, f.length, 0).kind === 'complete';
    if (!done) throw new Error('not reassembled');
  });
  return { perDatagram, fragments: sets[0]!.length };
}

const parse = dhcpParse();
console.log(`DHCP ACK parse and 5 fields: ${parse.ns} ns [${parse.best}..${parse.worst}]`);
const server = dhcpServer();
console.log(
  `DHCP server DISCOVER -> OFFER: ${server.discover.ns} ns; refused (pool exhausted): ${server.exhaustedDiscover.ns} ns`,
);
const arp = arpHit();
console.log(`ARP cache hit (256 entries): ${arp.ns} ns [${arp.best}..${arp.worst}]`);
const frag = fragmenting();
console.log(
  `IPv4 fragment written (9000 bytes / MTU 1500, ${frag.fragments} pieces): ${frag.perFragment.ns} ns each`,
);
const reas = reassembling();
const mbps = Math.round((9000 / reas.perDatagram.ns) * 1000);
console.log(
  `IPv4 reassembly of 9000 bytes in ${reas.fragments} pieces, reversed: ${reas.perDatagram.ns} ns (${mbps} MB/s)`,
);
const file = writeResult('proto', {
  rounds: ROUNDS,
  note: 'ns per operation: median of the rounds, best and worst',
  dhcpParseAckNs: parse,
  dhcpServerDiscoverNs: server.discover,
  dhcpServerExhaustedDiscoverNs: server.exhaustedDiscover,
  arpLookupHitNs: arp,
  ipv4FragmentWriteNs: { ...frag.perFragment, fragmentsPerDatagram: frag.fragments },
  ipv4Reassembly9000Ns: { ...reas.perDatagram, fragments: reas.fragments, megabytesPerSecond: mbps },
});
console.log(`wrote ${file}`);
