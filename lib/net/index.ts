// lib/net: wire formats (typed views over bytes and builders), checksums, pcap files.
export * from './addr.ts';
export * from './arp.ts';
export * from './checksum.ts';
export * from './dhcp.ts';
export * from './ethernet.ts';
export * from './frames.ts';
export * from './icmp.ts';
export type { Invalid } from './invalid.ts';
export * from './ipv4.ts';
export * from './pcap.ts';
export * from './tcp.ts';
export * from './udp.ts';
