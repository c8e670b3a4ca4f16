// Sample values for any argument type of a generated interface, extremes included,
// and a normal form of received values that survives structured cloning. Used on
// both sides of the round-trip tests (the mirror actor bundles this file too).

import { Err } from '../../protocols/errors.ts';
import type { MessageInfo, TypeInfo } from '../../runtime/binding/transport-mux.ts';

const pick = <T>(xs: readonly T[], seed: number): T => xs[seed % xs.length]!;

export function sample(t: TypeInfo, seed: number): unknown {
  switch (t.k) {
    case 'int': {
      if (t.bits === 64) {
        const max = t.signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
        const min = t.signed ? -(1n << 63n) : 0n;
        return pick([0n, max, min, 0x1234_5678_9abc_def0n & max, 1n], seed);
      }
      const max = t.signed ? 2 ** (t.bits - 1) - 1 : 2 ** t.bits - 1;
      const min = t.signed ? -(2 ** (t.bits - 1)) : 0;
      return pick([0, max, min, Math.floor(max / 3), 1], seed);
    }
    case 'size':
      return pick([0, Number.MAX_SAFE_INTEGER, 2 ** 32 + 5, 12345, 1], seed);
    case 'bool':
      return seed % 2 === 1;
    case 'enum':
      return seed % t.n;
    case 'errval':
      return pick([Err.OK, Err.RT_ERR_NOPROC, Err.PORT_ERR_IN_USE, 0xffff_ffff], seed);
    case 'iref':
      return pick([0, 0xffff_ffff, 7], seed);
    case 'string':
      return pick(['', 'héllo, wörld ✓', 'x'.repeat(3000), 'nul\u0000inside'], seed);
    case 'cap': {
      const sab = new SharedArrayBuffer(16);
      new Uint8Array(sab).set([seed & 0xff, 42, 7]);
      return sab;
    }
    case 'struct':
      return Object.fromEntries(t.fields.map(([name, ft], i) => [name, sample(ft, seed + i)]));
    case 'array': {
      const values = Array.from({ length: t.n }, (_, i) => sample(t.of, seed + i));
      return t.of.k === 'int' && t.of.bits === 8 ? Uint8Array.from(values as number[]) : values;
    }
    case 'dynarray': {
      const el = t.of as Extract<TypeInfo, { k: 'int' }>;
      const n = (seed * 3) % 11;
      const values = Array.from({ length: n }, (_, i) => sample(el, seed + i));
      const C = typedArrayClass(el);
      return (C as any).from(values);
    }
  }
}

export function typedArrayClass(t: { bits: number; signed: boolean }) {
  switch (t.bits) {
    case 8:
      return t.signed ? Int8Array : Uint8Array;
    case 16:
      return t.signed ? Int16Array : Uint16Array;
    case 32:
      return t.signed ? Int32Array : Uint32Array;
    default:
      return t.signed ? BigInt64Array : BigUint64Array;
  }
}

export function sampleArgs(m: MessageInfo, seed: number): unknown[] {
  return m.args.map((a, i) => sample(a.type, seed + i));
}

export function sampleOuts(m: MessageInfo, seed: number): Record<string, unknown> | undefined {
  if (m.outs.length === 0) return undefined;
  return Object.fromEntries(m.outs.map((o, i) => [o.name, sample(o.type, seed + i)]));
}

/** A form of a value that compares with deepEqual after structured cloning. */
export function normal(v: unknown): unknown {
  if (v instanceof SharedArrayBuffer) return { sab: Array.from(new Uint8Array(v)) };
  if (v !== null && typeof v === 'object' && v.constructor?.name === 'MessagePort') return 'MessagePort';
  if (ArrayBuffer.isView(v)) return { [v.constructor.name]: Array.from(v as unknown as ArrayLike<unknown>) };
  if (Array.isArray(v)) return v.map(normal);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normal(x)]));
  }
  return v;
}

export const SEEDS = [0, 1, 2, 3];
