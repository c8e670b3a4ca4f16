// lib/lwip: the protocol logic of the client stack, pure (no sockets, no timers):
// the ARP cache, IPv4 fragmentation and reassembly.
export * from './arp-cache.ts';
export * from './ipv4-fragment.ts';
export * from './ipv4-reassembly.ts';
