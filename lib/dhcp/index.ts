// lib/dhcp: DHCP's protocol logic (the wire format is lib/net/dhcp.ts): the client
// state machine netd runs, the server a peer machine runs, and the seeded PRNG they take.
export * from './client.ts';
export * from './prng.ts';
export * from './server.ts';
