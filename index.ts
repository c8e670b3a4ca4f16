// The fishnet package: the actor runtime and the embedding API (networks, machines);
// the libraries come as subpaths (fishnet/net, fishnet/bfdmux, fishnet/phy, ...).
export * from './embed/index.ts';
export * from './runtime/index.ts';
