// The fishnet package: the actor runtime; the libraries come as subpaths.
export * from './runtime/index.ts';
