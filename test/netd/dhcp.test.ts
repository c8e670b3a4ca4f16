// netd gets its address by DHCP: from a server on the wire (lib/dhcp's server logic
// behind a tap on the switch), through a lost OFFER (the fault injector), a NAK on
// renewal, an address found in use (ARP probe, DECLINE), a plain renewal, and no
// server at all.
import test from 'ava';
import { Machine, type MachineOptions } from '../../embed/machine.ts';
import { Network } from '../../embed/network.ts';
import { DhcpServer, type DhcpServerConfig } from '../../lib/dhcp/index.ts';
import {
  ArpOp,
  ArpPacket,
  arpFrame,
  BROADCAST_MAC,
  DhcpMessage,
  EthernetFrame,
  IpProtocol,
  Ipv4Packet,
  ipv4,
  type Mac,
  mac,
  UdpDatagram,
  udpFrame,
} from '../../lib/net/index.ts';
import { type FramePort, faultInjector } from '../../lib/phy/index.ts';
import { Runtime } from '../../runtime/index.ts';
import type { EtherClient } from '../helpers/machine.ts';
import { eventually, fixture } from '../helpers/runtime.ts';

const SERVER_MAC = mac('02:00:00:00:00:01');
const SERVER_IP = ipv4('10.0.0.1');

/** A DHCP server on the wire: lib/dhcp's logic behind a port on the switch. */
class DhcpPeer {
  server: DhcpServer;
  readonly sent: string[] = [];
  /** Addresses this peer claims when probed (a host already using them). */
  readonly claim = new Set<number>();
  /** Answer nothing (the server is down). */
  mute = false;
  /** After its first OFFER, the server restarts with this configuration (and forgets the offer). */
  restartAfterOffer: Partial<DhcpServerConfig> | undefined;
  private readonly eth = new EthernetFrame();
  private readonly ip = new Ipv4Packet();
  private readonly udp = new UdpDatagram();
  private readonly arp = new ArpPacket();
  private readonly msg = new DhcpMessage();

  constructor(
    private readonly port: FramePort,
    cfg: Partial<DhcpServerConfig> = {},
  ) {
    this.server = new DhcpServer(DhcpPeer.config(cfg));
    port.setReceiver((f) => this.input(f));
  }

  static config(cfg: Partial<DhcpServerConfig> = {}): DhcpServerConfig {
    return {
      serverId: SERVER_IP,
      subnetMask: ipv4('255.255.255.0'),
      poolStart: ipv4('10.0.0.100'),
      poolEnd: ipv4('10.0.0.120'),
      routers: [SERVER_IP],
      ...cfg,
    };
  }

  private input(f: Uint8Array): void {
    if (this.eth.attach(f)) return;
    if (this.eth.ethertype === 0x0806) {
      if (this.arp.attach(f, 14) || this.arp.op !== ArpOp.REQUEST) return;
      if (!this.claim.has(this.arp.targetIp)) return;
      this.port.send(
        arpFrame({
          dstMac: this.arp.senderMac,
          srcMac: mac('02:00:00:00:00:77'),
          op: ArpOp.REPLY,
          senderMac: mac('02:00:00:00:00:77'),
          senderIp: this.arp.targetIp,
          targetMac: this.arp.senderMac,
          targetIp: this.arp.senderIp,
        }),
      );
      return;
    }
    if (this.ip.attach(f, 14) || this.ip.protocol !== IpProtocol.UDP) return;
    if (this.udp.attach(f, this.ip.payloadOffset, 14 + this.ip.totalLength) || this.udp.dstPort !== 67)
      return;
    if (this.msg.attach(f.slice(this.udp.payloadOffset, this.udp.payloadOffset + this.udp.payloadLength)))
      return;
    if (this.mute) return;
    const reply = this.server.receive(this.msg, performance.now());
    if (!reply) return;
    if (reply.type === 2 && this.restartAfterOffer) {
      this.server = new DhcpServer(DhcpPeer.config(this.restartAfterOffer));
      this.restartAfterOffer = undefined;
    }
    this.sent.push(
      reply.type === 2 ? 'OFFER' : reply.type === 5 ? 'ACK' : reply.type === 6 ? 'NAK' : `${reply.type}`,
    );
    this.port.send(
      udpFrame({
        dstMac: (reply.dstMac ?? BROADCAST_MAC) as Mac,
        srcMac: SERVER_MAC,
        src: SERVER_IP,
        dst: reply.dst,
        srcPort: 67,
        dstPort: reply.dstPort,
        payload: reply.message,
      }),
    );
  }
}

interface Setup {
  rt: Runtime;
  net: Network;
  peer: DhcpPeer;
}

async function withDhcp(
  t: import('ava').ExecutionContext,
  opts: { server?: Partial<DhcpServerConfig> | null; faults?: boolean; dhcp?: Record<string, number> },
  fn: (s: Setup, boot: (o?: Partial<MachineOptions>) => Promise<Machine>) => Promise<void>,
): Promise<void> {
  const rt = new Runtime({ prestart: 0 });
  const net = new Network();
  const tap = net.tap();
  // Half of what the server sends may be lost; with this seed the injector drops the first
  // frame (the first OFFER) and lets the next five through.
  const port = opts.faults ? faultInjector(tap, { seed: 58, drop: 0.5, direction: 'tx' }) : tap;
  const peer = opts.server === null ? (undefined as never) : new DhcpPeer(port, opts.server);
  const machines: Machine[] = [];
  try {
    await fn({ rt, net, peer }, async (o = {}) => {
      const m = await Machine.boot(rt, net, {
        name: 'm1',
        address: { dhcp: { timeoutMs: 20_000, seed: 1, ...opts.dhcp } },
        ...o,
      });
      machines.push(m);
      return m;
    });
  } finally {
    for (const m of machines) await m.shutdown();
    await rt.shutdown();
    await net.close();
  }
  t.pass();
}

test('netd gets its address by DHCP before it serves; clients see it', (t) =>
  withDhcp(t, {}, async ({ rt, peer }, boot) => {
    const m = await boot();
    const a = await m.netd!.api.address();
    t.is(a.ip, ipv4('10.0.0.100'));
    t.is(a.mask, ipv4('255.255.255.0'));
    t.is(a.gw, SERVER_IP);
    t.deepEqual(peer.sent, ['OFFER', 'ACK']);
    const c = (await rt.spawn({
      module: fixture('ether-client'),
      args: { service: 'm1/ether' },
    })) as EtherClient;
    t.deepEqual(await c.api.ipInfo(), { ip: ipv4('10.0.0.100'), gw: SERVER_IP, mask: ipv4('255.255.255.0') });
  }));

test('a lost OFFER: netd retransmits its DISCOVER and gets its lease', (t) =>
  withDhcp(t, { faults: true }, async ({ peer }, boot) => {
    const m = await boot();
    t.is((await m.netd!.api.address()).ip, ipv4('10.0.0.100'));
    const d = (await m.netd!.api.dhcp()) as { stats: { retransmissions: number } };
    t.true(d.stats.retransmissions >= 1, `retransmissions: ${d.stats.retransmissions}`);
    t.true(peer.sent.filter((x) => x === 'OFFER').length >= 2);
  }));

test('an address found in use: netd declines it and takes another', (t) =>
  withDhcp(t, { dhcp: { declineWaitMs: 200 } }, async ({ peer }, boot) => {
    peer.claim.add(ipv4('10.0.0.100'));
    const m = await boot();
    t.is((await m.netd!.api.address()).ip, ipv4('10.0.0.101'));
    const d = (await m.netd!.api.dhcp()) as { stats: { declines: number } };
    t.is(d.stats.declines, 1);
  }));

test('a NAK (the server restarted and forgot its offer): netd starts again and gets an address', (t) =>
  withDhcp(t, {}, async ({ peer }, boot) => {
    peer.restartAfterOffer = { poolStart: ipv4('10.0.0.150'), poolEnd: ipv4('10.0.0.160') };
    const m = await boot();
    t.is((await m.netd!.api.address()).ip, ipv4('10.0.0.150'));
    t.deepEqual(peer.sent, ['OFFER', 'NAK', 'OFFER', 'ACK']);
    const d = (await m.netd!.api.dhcp()) as { stats: { naks: number } };
    t.is(d.stats.naks, 1);
  }));

test('renewal at T1; a lease that expires and a new one with another address: ports follow it', (t) =>
  withDhcp(t, { server: { leaseSeconds: 4, minLeaseSeconds: 2 } }, async ({ rt, peer }, boot) => {
    const m = await boot();
    const netd = m.netd!;
    t.is((await netd.api.address()).ip, ipv4('10.0.0.100'));
    const c = (await rt.spawn({
      module: fixture('ether-client'),
      args: { service: 'm1/ether' },
    })) as EtherClient;
    t.is(await c.api.openPort('udp', 7000), 7000);
    // T1 is half the lease: a renewal (unicast REQUEST, ACK) within ~2 s, same address.
    t.true(await eventually(() => peer.sent.filter((x) => x === 'ACK').length >= 2, 6000));
    t.is((await netd.api.address()).ip, ipv4('10.0.0.100'));
    // The server goes quiet: the lease runs out (renewing, rebinding, expiry) and is lost.
    peer.mute = true;
    t.true(await eventually(async () => (await netd.api.address()).ip === 0, 8000));
    // It comes back with another pool: netd gets a new address, its port follows.
    peer.server = new DhcpServer(
      DhcpPeer.config({ leaseSeconds: 60, poolStart: ipv4('10.0.0.150'), poolEnd: ipv4('10.0.0.160') }),
    );
    peer.mute = false;
    t.true(await eventually(async () => (await netd.api.address()).ip === ipv4('10.0.0.150'), 15_000));
    t.true(await eventually(async () => (await c.api.ipInfo()).ip === ipv4('10.0.0.150')));
    t.deepEqual(
      (await netd.api.ports()).map((p) => [p.port, p.state]),
      [[7000, 'open']],
      'the port stayed open, its filters made again for the new address',
    );
  }));

test('no server at all: the machine does not boot, with a clear error at the time limit', (t) =>
  withDhcp(t, { server: null }, async (_s, boot) => {
    const e = await boot({ address: { dhcp: { timeoutMs: 1500, seed: 1 } } }).catch((x) => x);
    t.regex(String(e), /DHCP_ERR_NO_SERVER: No DHCP server answered within the time limit/);
  }));
