// For the filter tests: an evaluator of the language written from its definition
// (independent of lib/bfdmux), random expressions, and printing them back to text.
import fc from 'fast-check';
import type { BinaryOp, Expr } from '../../lib/bfdmux/ast.ts';
import { Err } from '../../protocols/errors.ts';

const M = (1n << 64n) - 1n;
const span = { start: 0, end: 0 };

/** 1 match, 0 no match, or minus the error code: the language's definition. */
export function reference(e: Expr, p: Uint8Array, n = p.length): number {
  const LOAD = -Err.BFDMUX_ERR_LOAD_OUT_OF_BOUNDS;
  const DIV = -Err.BFDMUX_ERR_DIV_BY_ZERO;
  class Fail {
    constructor(readonly v: number) {}
  }
  const signed = (x: bigint) => (x >= 1n << 63n ? x - (1n << 64n) : x);
  const ev = (x: Expr): bigint => {
    switch (x.k) {
      case 'num':
        return x.value;
      case 'load': {
        const o = ev(x.offset);
        if (o + BigInt(x.width) > BigInt(n)) throw new Fail(LOAD);
        let v = 0n;
        for (let i = 0; i < x.width; i++) v = v * 256n + BigInt(p[Number(o) + i]!);
        return v;
      }
      case 'unary': {
        const v = ev(x.arg);
        return x.op === '!' ? (v === 0n ? 1n : 0n) : M - v;
      }
      case 'binary': {
        if (x.op === '&&') return ev(x.left) !== 0n ? (ev(x.right) !== 0n ? 1n : 0n) : 0n;
        if (x.op === '||') return ev(x.left) !== 0n ? 1n : ev(x.right) !== 0n ? 1n : 0n;
        const a = ev(x.left);
        const b = ev(x.right);
        const t = (c: boolean) => (c ? 1n : 0n);
        switch (x.op) {
          case '+':
            return (a + b) & M;
          case '-':
            return (a - b + (1n << 64n)) & M;
          case '*':
            return (a * b) & M;
          case '/':
            if (b === 0n) throw new Fail(DIV);
            return a / b;
          case '%':
            if (b === 0n) throw new Fail(DIV);
            return a % b;
          case '==':
            return t(a === b);
          case '!=':
            return t(a !== b);
          case '>':
            return t(signed(a) > signed(b));
          case '<':
            return t(signed(a) < signed(b));
          case '>=':
            return t(signed(a) >= signed(b));
          case '<=':
            return t(signed(a) <= signed(b));
          case '}':
            return t(a > b);
          case '{':
            return t(a < b);
          case '}=':
            return t(a >= b);
          case '{=':
            return t(a <= b);
          case '&':
            return a & b;
          case '|':
            return a | b;
          case '^':
            return a ^ b;
        }
      }
    }
    throw new Error('unreachable');
  };
  try {
    return ev(e) !== 0n ? 1 : 0;
  } catch (f) {
    if (f instanceof Fail) return f.v;
    throw f;
  }
}

export const BINARY_OPS: BinaryOp[] = [
  '||',
  '&&',
  '|',
  '^',
  '&',
  '==',
  '!=',
  '>=',
  '<=',
  '}=',
  '{=',
  '>',
  '<',
  '}',
  '{',
  '+',
  '-',
  '*',
  '/',
  '%',
];

const interesting = [
  0n,
  1n,
  2n,
  4n,
  14n,
  15n,
  23n,
  255n,
  256n,
  0x7fffn,
  0xffffn,
  0x7fff_ffffn,
  0x8000_0000n,
  0xffff_ffffn,
  1n << 32n,
  (1n << 53n) - 1n,
  1n << 53n,
  (1n << 63n) - 1n,
  1n << 63n,
  M,
];

/** Random expressions: small offsets so that loads often succeed, and values at every boundary. */
export function arbitraryExpr(maxDepth = 5): fc.Arbitrary<Expr> {
  const { node } = fc.letrec<{ node: Expr; leaf: Expr; load: Expr; unary: Expr; binary: Expr }>((tie) => ({
    node: fc.oneof(
      { maxDepth, depthIdentifier: 'expr' },
      tie('leaf'),
      tie('load'),
      tie('unary'),
      tie('binary'),
      tie('binary'),
    ),
    leaf: fc
      .oneof(
        fc.bigInt({ min: 0n, max: 300n }),
        fc.constantFrom(...interesting),
        fc.bigInt({ min: 0n, max: M }),
      )
      .map((value) => ({ k: 'num' as const, value, span })),
    load: fc
      .record({
        width: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
        offset: fc.oneof(
          {
            weight: 4,
            arbitrary: fc
              .bigInt({ min: 0n, max: 40n })
              .map((value) => ({ k: 'num' as const, value, span }) as Expr),
          },
          { weight: 1, arbitrary: tie('node') },
        ),
      })
      .map(({ width, offset }) => ({ k: 'load' as const, width, offset, span })),
    unary: fc
      .record({ op: fc.constantFrom('!' as const, '~' as const), arg: tie('node') })
      .map((u) => ({ k: 'unary' as const, ...u, span })),
    binary: fc
      .record({ op: fc.constantFrom(...BINARY_OPS), left: tie('node'), right: tie('node') })
      .map((b) => ({ k: 'binary' as const, ...b, span })),
  }));
  return node;
}

/** Fully parenthesised text. */
export function print(e: Expr): string {
  switch (e.k) {
    case 'num':
      return e.value > 1000n ? `0x${e.value.toString(16)}` : e.value.toString();
    case 'load':
      return `int${8 * e.width}[${print(e.offset)}]`;
    case 'unary':
      return `${e.op}(${print(e.arg)})`;
    case 'binary':
      return `(${print(e.left)} ${e.op} ${print(e.right)})`;
  }
}

const LEVEL: Record<string, number> = {
  '||': 0,
  '&&': 1,
  '|': 2,
  '^': 3,
  '&': 4,
  '==': 5,
  '!=': 5,
  '>=': 6,
  '<=': 6,
  '}=': 6,
  '{=': 6,
  '>': 6,
  '<': 6,
  '}': 6,
  '{': 6,
  '+': 7,
  '-': 7,
  '*': 8,
  '/': 8,
  '%': 8,
};

/** Text with only the parentheses that precedence and left associativity need. */
export function printMinimal(e: Expr, parent = -1, right = false): string {
  switch (e.k) {
    case 'num':
      return e.value.toString();
    case 'load':
      return `int${8 * e.width}[${printMinimal(e.offset)}]`;
    case 'unary':
      return `${e.op}${printMinimal(e.arg, 99)}`;
    case 'binary': {
      const l = LEVEL[e.op]!;
      const s = `${printMinimal(e.left, l)} ${e.op} ${printMinimal(e.right, l, true)}`;
      return l < parent || (l === parent && right) ? `(${s})` : s;
    }
  }
}

/** Structure only (spans dropped), for comparing parse results. */
export function shape(e: Expr): unknown {
  switch (e.k) {
    case 'num':
      return e.value;
    case 'load':
      return ['load', e.width, shape(e.offset)];
    case 'unary':
      return [e.op, shape(e.arg)];
    case 'binary':
      return [e.op, shape(e.left), shape(e.right)];
  }
}
