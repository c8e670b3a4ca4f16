// Checking the options a link or middleware is built with. A wrong type is a
// TypeError, a number out of range (NaN included) a RangeError; both name the
// function, the option and the value, so a typo is found where it was made.

/** A value as an error message shows it: strings quoted, other types named. */
export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === undefined)
    return String(v);
  if (v === null) return 'null';
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return 'an array';
  return `an ${typeof v}`;
}

/** The options object itself (undefined means all defaults), with no unknown keys. */
export function checkOptions(
  where: string,
  opts: unknown,
  known: readonly string[],
): Record<string, unknown> {
  if (opts === undefined) return {};
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts))
    throw new TypeError(`${where}: options must be an object, not ${show(opts)}`);
  for (const k of Object.keys(opts)) {
    if (!known.includes(k))
      throw new TypeError(`${where}: unknown option '${k}' (known: ${known.join(', ')})`);
  }
  return opts as Record<string, unknown>;
}

export function numberOption(
  where: string,
  name: string,
  v: unknown,
  range: { min: number; max: number; integer?: boolean },
  fallback?: number,
): number {
  if (v === undefined && fallback !== undefined) return fallback;
  const kind = range.integer ? 'an integer' : 'a number';
  const span = `${range.min}..${range.max}`;
  if (typeof v !== 'number')
    throw new TypeError(`${where}: option '${name}' must be ${kind}, not ${show(v)}`);
  if (Number.isNaN(v) || v < range.min || v > range.max || (range.integer && !Number.isInteger(v)))
    throw new RangeError(`${where}: option '${name}' must be ${kind} in ${span}, not ${show(v)}`);
  return v;
}

export function stringOption(where: string, name: string, v: unknown, fallback: string): string {
  if (v === undefined) return fallback;
  if (typeof v !== 'string')
    throw new TypeError(`${where}: option '${name}' must be a string, not ${show(v)}`);
  return v;
}

export function choiceOption<T extends string>(
  where: string,
  name: string,
  v: unknown,
  choices: readonly T[],
  fallback: T,
): T {
  if (v === undefined) return fallback;
  if (typeof v !== 'string')
    throw new TypeError(`${where}: option '${name}' must be a string, not ${show(v)}`);
  if (!choices.includes(v as T))
    throw new RangeError(`${where}: option '${name}' must be one of ${choices.join(', ')}, not ${show(v)}`);
  return v as T;
}

export function functionOption<F extends Function>(where: string, name: string, v: unknown, fallback: F): F {
  if (v === undefined) return fallback;
  if (typeof v !== 'function')
    throw new TypeError(`${where}: option '${name}' must be a function, not ${show(v)}`);
  return v as F;
}

/** The argument a middleware wraps must look like a FramePort. */
export function checkPort(where: string, name: string, v: unknown): void {
  const p = v as Record<string, unknown> | null;
  if (
    typeof p !== 'object' ||
    p === null ||
    typeof p.send !== 'function' ||
    typeof p.setReceiver !== 'function' ||
    typeof p.close !== 'function' ||
    typeof p.stats !== 'object'
  ) {
    throw new TypeError(
      `${where}: '${name}' must be a FramePort (send, setReceiver, stats, close), not ${show(v)}`,
    );
  }
}
