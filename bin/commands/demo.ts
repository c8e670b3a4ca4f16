// `fishnet demo <name>`: runnable walk-throughs of what fishnet does, each in bin/demos/.
import type { Command } from '../cli.ts';
import type { Demo } from '../demos/common.ts';
import { killClient } from '../demos/kill-client.ts';
import { linux } from '../demos/linux.ts';
import { spoof } from '../demos/spoof.ts';
import { supervision } from '../demos/supervision.ts';
import { guarded, UsageError } from '../flags.ts';

const demos: Record<string, Demo> = {
  supervision,
  'kill-client': killClient,
  spoof,
  linux,
};

const usage = [
  'usage: fishnet demo <name> [--json]',
  '',
  '  --json  print the measured results as one JSON line on stdout (the narration goes to stderr)',
  '',
  'demos:',
  ...Object.entries(demos).flatMap(([k, d]) => [
    `  ${k.padEnd(12)} ${d.about}`,
    ...(d.usage ? [`  ${d.usage}`] : []),
  ]),
].join('\n');

export const demo: Command = {
  summary: `run a demo: ${Object.keys(demos).join(', ')}`,
  usage,
  run: (args) =>
    guarded('demo', async () => {
      const [name, ...rest] = args;
      const d = Object.hasOwn(demos, name ?? '') ? demos[name!] : undefined;
      if (!d) throw new UsageError(name ? `unknown demo '${name}'` : 'which demo?');
      const json = rest.includes('--json');
      const own = rest.filter((a) => a !== '--json');
      const say = json ? (l: string) => process.stderr.write(`${l}\n`) : (l: string) => console.log(l);
      return d.run({ say, json }, own);
    }),
};
