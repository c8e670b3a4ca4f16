// lib/lwip: the client stack an actor links. Pure protocol logic (the ARP cache,
// IPv4 fragmentation and reassembly), the stack (stack.ts: ARP, IPv4, ICMP errors,
// a protocol table), UDP (udp.ts), its link to the e1000n driver (netif.ts), netd's
// binding (netd-client.ts), and a node:dgram-shaped socket API (dgram.ts):
//
//   const net = await lwip.open(ctx, { machine: 'm1' });
//   const s = net.dgram.createSocket('udp4');
export * from './arp-cache.ts';
export {
  type AddressInfo,
  createSocket,
  type DgramHost,
  type LookupFunction,
  type RemoteInfo,
  Socket,
  type SocketOptions,
  type SocketStats,
} from './dgram.ts';
export * from './ipv4-fragment.ts';
export * from './ipv4-reassembly.ts';
export type { Link, LinkHandlers } from './link.ts';
export { Net, type NetStats, type OpenOptions, open } from './net.ts';
export {
  type IpInfo as NetdIpInfo,
  NetdClient,
  type NetdClientOptions,
  PRIVILEGED_PORTS,
} from './netd-client.ts';
export {
  MAX_RX_PBUFS,
  MAX_TX_SLOTS,
  Netif,
  type NetifOptions,
  type NetifStats,
  PBUF_BYTES,
} from './netif.ts';
export * from './stack.ts';
export * from './udp.ts';
