// `npm run bench`: every benchmark, each in a process of its own (so that one's JIT
// state and garbage do not weigh on the next); results in bench/out/*.json (ignored
// by git). `npm run bench -- filters` runs one; `--quick` shortens them; `--save`
// writes to bench/results/ instead, for a run to commit on purpose.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const benches = ['runtime', 'transports', 'filters', 'proto', 'links', 'device', 'datapath', 'netd', 'udp'];
const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith('--'));
const flags = args.filter((a) => a.startsWith('--'));
const unknown = only.filter((b) => !benches.includes(b));
if (unknown.length) {
  console.error(`unknown benchmark ${unknown.join(', ')}: choose from ${benches.join(', ')}`);
  process.exit(2);
}
let failed = 0;
for (const name of benches) {
  if (only.length && !only.includes(name)) continue;
  console.log(`== ${name}`);
  const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...flags], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
