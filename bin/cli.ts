// fishnet's command line: a table of subcommands, each in bin/commands/.
import { demo } from './commands/demo.ts';
import { filter } from './commands/filter.ts';
import { flounder } from './commands/flounder.ts';
import { filters, ports, stats } from './commands/inspect.ts';
import { start } from './commands/start.ts';
import { up } from './commands/up.ts';

export interface Command {
  readonly summary: string;
  readonly usage: string;
  run(args: string[]): Promise<number>;
}

const commands: Record<string, Command> = { start, up, ports, filters, stats, demo, filter, flounder };

function help(): string {
  const width = Math.max(...Object.keys(commands).map((k) => k.length));
  return [
    'fishnet: the Barrelfish networking architecture as actors on Node.js worker threads',
    '',
    'usage: fishnet <command> [options]',
    '',
    'commands:',
    ...Object.entries(commands).map(([k, c]) => `  ${k.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'fishnet <command> --help' for a command's options.",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name === undefined ? 2 : 0;
  }
  const cmd = commands[name];
  if (!cmd) {
    console.error(`fishnet: unknown command '${name}' (see 'fishnet --help')`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`${cmd.usage}\n\n${cmd.summary}`);
    return 0;
  }
  return cmd.run(rest);
}
