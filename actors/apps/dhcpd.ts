// A DHCP server (RFC 2131) as an application: lib/dhcp's server logic behind a UDP
// socket on port 67 of lib/lwip's stack. It needs the machine's capability for low
// ports (`lowPorts`). Clients without an address yet cannot answer ARP, so replies
// meant for a client's MAC go to the broadcast address (RFC 2131 4.1 allows it);
// a renewing client (it has the address, and netd answers ARP for it) gets unicast.
//
//   { machine, pool: ['10.0.0.100', '10.0.0.199'], router?: '10.0.0.1', dns?: [...], leaseSeconds? }
import { DhcpServer } from '../../lib/dhcp/server.ts';
import { open } from '../../lib/lwip/index.ts';
import { DhcpMessage, formatIpv4, ipv4 } from '../../lib/net/index.ts';
import { defineActor } from '../../runtime/index.ts';

export interface DhcpdArgs {
  readonly machine: string;
  /** First and last address to lease (default: .100 to .199 of the machine's subnet). */
  readonly pool?: readonly [string, string];
  readonly router?: string;
  readonly dns?: readonly string[];
  /** Seconds a lease lasts (default 3600). */
  readonly leaseSeconds?: number;
}

export default defineActor(async (ctx, args: DhcpdArgs) => {
  if (typeof args?.machine !== 'string')
    throw new TypeError('dhcpd: args.machine (a machine name) is required');
  const net = await open(ctx, { machine: args.machine, timeoutMs: 5000 });
  ctx.onShutdown(() => net.close());
  const ip = net.ip;
  const mask = net.stack.netmask;
  const subnet = (ip & mask) >>> 0;
  const [first, last] = args.pool
    ? [ipv4(args.pool[0]), ipv4(args.pool[1])]
    : [(subnet + 100) >>> 0, (subnet + 199) >>> 0];
  const server = new DhcpServer({
    serverId: ip,
    subnetMask: mask,
    poolStart: first as never,
    poolEnd: last as never,
    routers: args.router ? [ipv4(args.router)] : undefined,
    dns: args.dns?.map((d) => ipv4(d)),
    leaseSeconds: args.leaseSeconds,
  });
  const counters = { received: 0, malformed: 0, replies: 0, sendErrors: 0 };
  const request = new DhcpMessage();
  const s = net.dgram.createSocket({ type: 'udp4', zeroCopy: true });
  s.on('message', (msg) => {
    counters.received++;
    if (request.attach(new Uint8Array(msg.buffer, msg.byteOffset, msg.length)) !== undefined) {
      counters.malformed++;
      return;
    }
    const reply = server.receive(request, Date.now());
    if (!reply) return;
    const to =
      reply.dstMac === undefined || (request.ciaddr !== 0 && reply.dst === request.ciaddr)
        ? formatIpv4(reply.dst)
        : '255.255.255.255';
    counters.replies++;
    s.send(reply.message, reply.dstPort, to, (e) => {
      if (e) counters.sendErrors++;
    });
  });
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(67, () => {
      s.off('error', reject);
      s.setBroadcast(true);
      resolve();
    });
  });
  return {
    /** Every address it has a record of: offered, bound, declined, free. */
    leases: () => server.leases(Date.now()).map((l) => ({ ...l, address: formatIpv4(l.address) })),
    stats: () => ({ ...counters, server: structuredClone(server.stats) }),
  };
});
