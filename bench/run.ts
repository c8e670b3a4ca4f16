// `npm run bench`: every benchmark, results in bench/results/*.json. `--quick` for a short run.
import { filtersBench } from './filters.ts';
import { runtimeBench } from './runtime.ts';
import { transportsBench } from './transports.ts';

const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const benches: Record<string, () => Promise<unknown>> = {
  runtime: runtimeBench,
  transports: transportsBench,
  filters: filtersBench,
};
for (const [name, run] of Object.entries(benches)) {
  if (only.length && !only.includes(name)) continue;
  console.log(`== ${name}`);
  await run();
}
