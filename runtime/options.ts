// Checks for the options of every public entry point. A bad value is refused before
// anything is done, with RT_ERR_BAD_SPEC naming the option and showing the value;
// a callback that is not a function is a TypeError, as Node gives.

import { FishnetError } from '../protocols/errors.ts';

/** A value as an error message shows it: strings quoted, NaN and bigints as written. */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return v.toString();
  return Array.isArray(v) ? 'an array' : 'an object';
}

export function badOption(what: string, v: unknown, should: string): never {
  throw new FishnetError('RT_ERR_BAD_SPEC', `${what} must be ${should}, not ${describeValue(v)}`);
}

/** An options argument: undefined or a plain object whose keys are all known. */
export function checkOptions<T extends object>(
  opts: unknown,
  what: string,
  known: readonly string[],
): Partial<T> {
  if (opts === undefined) return {};
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) badOption(what, opts, 'an object');
  for (const k of Object.keys(opts)) {
    if (!known.includes(k)) {
      throw new FishnetError(
        'RT_ERR_BAD_SPEC',
        `${what}: unknown option '${k}' (known: ${known.join(', ') || 'none'})`,
      );
    }
  }
  return opts as Partial<T>;
}

/**
 * A time-out in milliseconds: undefined (the default), a finite number >= 0, or
 * Infinity where waiting for ever is meaningful. NaN, negatives and strings are refused.
 */
export function checkTimeout(v: unknown, what: string, allowInfinity = true): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || Number.isNaN(v) || v < 0 || (!allowInfinity && v > MAX_TIMER_MS)) {
    badOption(
      what,
      v,
      `a number of milliseconds >= 0${allowInfinity ? ' (or Infinity)' : ` up to ${MAX_TIMER_MS}`}`,
    );
  }
  // Node's timers end at 2^31-1 ms (24.8 days); anything longer is, for a program, for ever.
  return v > MAX_TIMER_MS ? Infinity : v;
}

/** The longest delay a Node timer takes. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** An integer in [min, max]. */
export function checkInteger(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    badOption(what, v, `an integer in ${min}..${max}`);
  }
  return v;
}

/** A finite number > 0. */
export function checkPositive(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) badOption(what, v, 'a finite number > 0');
  return v;
}

export function checkFunction(v: unknown, what: string): void {
  if (typeof v !== 'function') throw new TypeError(`${what} must be a function, not ${describeValue(v)}`);
}

export function checkName(v: unknown, what: string): string {
  if (typeof v !== 'string' || v === '') badOption(what, v, 'a non-empty string');
  return v;
}
