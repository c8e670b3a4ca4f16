#!/usr/bin/env node
// The `fishnet` command. In a checkout it runs the TypeScript sources through tsx,
// so that an edit needs no build step; installed as a package (where only the
// compiled dist/ is shipped) it runs the compiled JavaScript.
import { existsSync } from 'node:fs';

const source = new URL('./cli.ts', import.meta.url);
let main;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import(source.href));
} else {
  ({ main } = await import(new URL('../dist/bin/cli.js', import.meta.url).href));
}
process.exitCode = await main(process.argv.slice(2));
