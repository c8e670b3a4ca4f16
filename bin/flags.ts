// Flags for the commands: node:util's parseArgs, with every mistake turned into one
// line that names the flag or value (exit code 2), as a command line should.
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A mistake in how a command was called: printed as one line, exit code 2. */
export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/** What a flag's declaration makes of its value. */
export type FlagValues<O extends Options> = {
  [K in keyof O]?: O[K]['type'] extends 'boolean'
    ? boolean
    : O[K]['multiple'] extends true
      ? string[]
      : string;
};

export function parseFlags<O extends Options>(
  args: string[],
  options: O,
  positionals = false,
): { values: FlagValues<O>; positionals: string[] } {
  try {
    const r = parseArgs({ args, options, allowPositionals: positionals, strict: true });
    return { values: r.values as FlagValues<O>, positionals: r.positionals };
  } catch (e) {
    // parseArgs says e.g. "Unknown option '--frob'. To specify a positional argument ...": keep the first sentence.
    throw new UsageError(
      (e as Error).message
        .split(/\.\s+(?=[A-Z])/)[0]!
        .replace(/\.$/, '')
        .replace(/\s+/g, ' '),
    );
  }
}

/** An integer flag within bounds, or a UsageError naming it. */
export function intFlag(
  name: string,
  value: string | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, not '${value}'`);
  }
  return n;
}

/** `key=value,key=value` into a record; keys outside `allowed` are refused by name. */
export function keyValues(flag: string, text: string, allowed: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (eq < 0 || !allowed.includes(key)) {
      throw new UsageError(`--${flag}: '${part}' is not one of ${allowed.map((k) => `${k}=...`).join(', ')}`);
    }
    out[key] = part.slice(eq + 1);
  }
  return out;
}

/** Run a command body: a UsageError becomes `fishnet <cmd>: <message>` on stderr and exit code 2. */
export async function guarded(cmd: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`fishnet ${cmd}: ${e.message} (see 'fishnet ${cmd} --help')`);
      return 2;
    }
    throw e;
  }
}

/** A machine's name as `fishnet up --name` takes it (it names a socket file), or a UsageError. */
export function machineName(name: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name === '.' || name === '..') {
    throw new UsageError(`--name: '${name}' is not letters, digits, '.', '_' or '-'`);
  }
  return name;
}
