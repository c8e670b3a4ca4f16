// Typed errors from the registry (protocols/errors.fugu). Every error that crosses
// a binding or comes out of the runtime is a FishnetError carrying a registry code.

import { ERROR_ENTRIES, Err, type ErrName, type ErrorEntry } from './generated/errors.ts';

export { Err, type ErrName };

/** An error code from the registry (0 = OK). What Flounder called errval. */
export type ErrCode = number;

const byCode = new Map<number, ErrorEntry>(ERROR_ENTRIES.map((e) => [e.code, e]));
const BRAND = Symbol.for('fishnet.error');

export function errorEntry(code: ErrCode): ErrorEntry | undefined {
  return byCode.get(code);
}

export function errorName(code: ErrCode): string {
  return byCode.get(code)?.name ?? `unknown error 0x${code.toString(16)}`;
}

export function isFailure(code: ErrCode): boolean {
  return code !== 0 && byCode.get(code)?.failure !== false;
}

/** What a FishnetError looks like on the wire: plain data, structured-clone safe. */
export interface WireError {
  code: number;
  detail?: string;
  data?: unknown;
}

export class FishnetError extends Error {
  readonly code: ErrCode;
  readonly errName: string;
  readonly detail: string | undefined;
  /** Structured-clone-safe extra data: the DOWN reason, the out-arguments of a failed rpc, ... */
  readonly data: unknown;

  constructor(code: ErrCode | ErrName, detail?: string, options?: { data?: unknown; cause?: unknown }) {
    const num = typeof code === 'number' ? code : Err[code];
    const entry = byCode.get(num);
    const name = entry?.name ?? `UNKNOWN_ERROR(0x${num.toString(16)})`;
    const text = entry?.text ?? 'an error code that this build does not know';
    super(`${name}: ${text}${detail ? ` (${detail})` : ''}`, { cause: options?.cause });
    this.name = 'FishnetError';
    this.code = num;
    this.errName = name;
    this.detail = detail;
    this.data = options?.data;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for a FishnetError from any copy of this module (bundled actors carry their own). */
  static override [Symbol.hasInstance](x: unknown): boolean {
    return typeof x === 'object' && x !== null && (x as Record<symbol, unknown>)[BRAND] === true;
  }

  is(name: ErrName): boolean {
    return this.code === Err[name];
  }

  toWire(): WireError {
    return { code: this.code, detail: this.detail, data: this.data };
  }

  /** The error a peer sent, or undefined when what it sent is not a WireError (a hostile peer). */
  static fromWire(w: unknown): FishnetError | undefined {
    if (typeof w !== 'object' || w === null) return undefined;
    const { code, detail, data } = w as Record<string, unknown>;
    if (typeof code !== 'number' || !Number.isInteger(code) || code < 0 || code > 0xffff_ffff)
      return undefined;
    if (detail !== undefined && typeof detail !== 'string') return undefined;
    return new FishnetError(code, detail, { data });
  }

  /** Wrap anything thrown by user code as a registry error, keeping registry errors as they are. */
  static wrap(e: unknown, code: ErrName = 'RT_ERR_HANDLER_FAILED'): FishnetError {
    if (e instanceof FishnetError) return e;
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    return new FishnetError(code, message, { cause: e });
  }
}
