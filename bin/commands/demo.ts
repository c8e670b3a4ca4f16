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
      // The demo's name is the first word that is not a flag: `--json spoof` works as `spoof --json`.
      const json = args.includes('--json');
      const rest = args.filter((a) => a !== '--json');
      const at = rest.findIndex((a) => !a.startsWith('-'));
      const name = at < 0 ? undefined : rest[at];
      if (at > 0) throw new UsageError(`unknown flag '${rest[0]}' before the demo's name`);
      const d = Object.hasOwn(demos, name ?? '') ? demos[name!] : undefined;
      if (!d) throw new UsageError(name ? `unknown demo '${name}'` : 'which demo?');
      const own = rest.slice(at + 1);
      const say = json ? (l: string) => process.stderr.write(`${l}\n`) : (l: string) => console.log(l);
      return d.run({ say, json }, own);
    }),
};
