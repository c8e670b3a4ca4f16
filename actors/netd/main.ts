// netd: the trusted domain that owns ports and filters on behalf of applications,
// and cleans up after them. It holds the only capability for the driver's control
// interface (ether_netd). At start it binds it, learns the MAC, registers its own RX
// buffer as the default buffer and the ARP filters, gets an address (DHCP, or a
// static configuration), and only then exports `<machine>/netd` (and, for clients
// handed the capability for ports below 1024, `<machine>/netd-priv`).

import {
  arpFilter,
  arpTransmitFilter,
  compileFilter,
  dstMacFilter,
  srcMacFilter,
} from '../../lib/bfdmux/index.ts';
import type { DhcpLease } from '../../lib/dhcp/client.ts';
import { type Ipv4Addr, ipv4, type Mac } from '../../lib/net/index.ts';
import { numberOption } from '../../lib/phy/options.ts';
import { ether_netd } from '../../protocols/generated/ether_netd.ts';
import { netd } from '../../protocols/generated/netd.ts';
import { type CapabilityRef, defineActor } from '../../runtime/index.ts';
import { type DhcpOptions, NetdDhcp } from './dhcp.ts';
import { NetdLink } from './link.ts';
import { DEFAULT_EPHEMERAL, PortAllocator, type PortRange } from './ports.ts';
import { DEFAULT_PORTS_PER_CLIENT, PortService } from './service.ts';
import { type Address, NetdStack } from './stack.ts';

export interface NetdArgs {
  readonly machine: string;
  /** A static address: { ip: '10.0.0.2', mask: '255.255.255.0', gw?: '10.0.0.1' }, or DHCP. */
  readonly address:
    | { readonly ip: string; readonly mask: string; readonly gw?: string }
    | { readonly dhcp: DhcpOptions };
  /** The ephemeral port range (default 49152-65535). */
  readonly ephemeral?: PortRange;
  /** Ports one client may hold at once (default 4096). */
  readonly portsPerClient?: number;
}

export default defineActor(async (ctx, args: NetdArgs) => {
  const caps = ctx.caps as Record<string, CapabilityRef | undefined>;
  if (!caps.driver) throw new Error('netd needs the capability `driver` (connect ether_netd)');
  const ports = new PortAllocator(args.ephemeral ?? DEFAULT_EPHEMERAL);
  // Over shared memory: every rpc of ether_netd but the filter registrations fits a ring.
  const driver = await ctx.connect(ether_netd, caps.driver, { transport: 'shm' });
  const mac = Number((await driver.rpc.get_mac_address()).hwaddr) as Mac;
  // A netd that starts (again) takes over from a clean table: clients open their ports anew.
  await driver.rpc.reset_filters();
  const link = await NetdLink.open(ctx, `${args.machine}/ether`);
  await driver.rpc.set_default_buffer(link.rxBuffer);
  const code = (expr: string) => compileFilter(expr).code;
  // Clients may send ARP from the NIC's MAC and the machine's address only (again when it changes).
  const arpRx = code(arpFilter());
  const setArp = (ip: Ipv4Addr) => driver.rpc.register_arp_filter(arpRx, code(arpTransmitFilter(mac, ip)));
  await setArp('dhcp' in args.address ? (0 as Ipv4Addr) : ipv4(args.address.ip));
  // netd's own frames (ARP answers, ping replies, port unreachable, RSTs, DHCP) leave
  // from its TX buffer with the NIC's MAC; its RX side is the default buffer, so the
  // RX filter of this pair is one that never matches (a frame to the NIC, from it).
  await driver.rpc.register_filter(
    link.rxBuffer,
    link.txBuffer,
    code(`${dstMacFilter(mac)} && ${srcMacFilter(mac)}`),
    code(srcMacFilter(mac)),
  );

  const address: Address = { ip: 0 as Ipv4Addr, mask: 0 as Ipv4Addr, gw: 0 as Ipv4Addr };
  let dhcp: NetdDhcp | undefined;
  let lease: DhcpLease | undefined;
  const stack = new NetdStack(mac, address, {
    send: (f) => link.send(f),
    dhcp: 'dhcp' in args.address ? (payload, srcMac) => dhcp?.receive(payload, srcMac) : undefined,
    arpSeen: (ip) => dhcp?.arpSeen(ip),
  });
  link.receive((frame, len) => stack.input(frame, len, performance.now()));
  const ticker = setInterval(() => stack.tick(performance.now()), 1000);
  ticker.unref();
  const service = new PortService(
    driver,
    ports,
    mac,
    address,
    numberOption(
      'netd',
      'portsPerClient',
      args.portsPerClient,
      { min: 1, max: 65536, integer: true },
      DEFAULT_PORTS_PER_CLIENT,
    ),
  );
  const readdress = () => void Promise.all([setArp(address.ip), service.readdress()]).catch(() => {});

  if ('dhcp' in args.address) {
    const opts = args.address.dhcp;
    await new Promise<void>((resolve, reject) => {
      let first = true;
      dhcp = new NetdDhcp(
        mac,
        (f) => link.send(f),
        (ip) => stack.arpRequest(ip, true),
        {
          bound: (l, renewed) => {
            const changed = address.ip !== l.address;
            address.ip = l.address;
            address.mask = l.mask;
            address.gw = (l.router ?? 0) as Ipv4Addr;
            lease = l;
            if (first) {
              first = false;
              resolve(setArp(address.ip).then(() => {}));
            } else if (changed || !renewed) readdress();
          },
          lost: () => {
            address.ip = 0 as Ipv4Addr;
            lease = undefined;
            readdress();
          },
          failed: (e) => {
            if (first) reject(e);
          },
        },
        opts,
      );
      dhcp.start();
    });
  } else {
    const a = args.address;
    address.ip = ipv4(a.ip);
    address.mask = ipv4(a.mask);
    address.gw = a.gw ? ipv4(a.gw) : (0 as Ipv4Addr);
  }

  await ctx.serve(netd, `${args.machine}/netd`, (ep) => service.attach(ep, false));
  if (caps.lowPorts) await ctx.serve(netd, caps.lowPorts, (ep) => service.attach(ep, true));
  ctx.onShutdown(() => {
    clearInterval(ticker);
    dhcp?.close();
    service.releases.close();
  });

  return {
    /** Every open port: type, number, owner, filter id, state, buffers. */
    ports: () => service.list(),
    /** Ports one actor holds (0 once a dead client's cleanup is done). */
    portsOf: (actor: number) => service.portsOf(actor),
    /** Resolves true once `actor` holds no port (at once if none), false after `timeoutMs`. */
    released: (actor: number, timeoutMs: number) => service.releases.until(actor, timeoutMs),
    address: () => ({ ...address }),
    /** The lease, its deadlines as seconds from now (netd's clock means nothing to the caller). */
    lease: () => {
      if (!lease) return null;
      const l = lease;
      const now = performance.now();
      const inS = (at: number) => (Number.isFinite(at) ? Math.max(0, Math.round((at - now) / 1000)) : null);
      return {
        address: l.address,
        mask: l.mask,
        router: l.router ?? null,
        dns: [...l.dns],
        server: l.server,
        leaseSeconds: l.leaseSeconds,
        renewInS: inS(l.t1At),
        rebindInS: inS(l.t2At),
        expiresInS: inS(l.expiresAt),
      };
    },
    dhcp: () => (dhcp ? { state: dhcp.client.state, stats: dhcp.client.stats } : null),
    statistics: () => ({
      ports: {
        ...service.stats,
        open: service.list().length,
        clients: service.clientCount,
        ownersCached: service.ownersCached,
      },
      stack: stack.stats,
      link: link.stats,
      free: { tcp: ports.freeEphemeral('tcp'), udp: ports.freeEphemeral('udp') },
    }),
  };
});
