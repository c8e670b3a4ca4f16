// Constant folding: operators whose operands are known are computed now, with the
// language's own semantics. Nothing that could fail at run time (a load, a division
// by zero) is folded away, and only short circuits that the evaluation itself would
// take are applied (0 && x is 0, nonzero || x is 1), so verdicts and errors are kept.
import type { Expr } from './ast.ts';
import { binary, unary } from './semantics.ts';

export function optimiseFilter(e: Expr): Expr {
  switch (e.k) {
    case 'num':
      return e;
    case 'load':
      return { ...e, offset: optimiseFilter(e.offset) };
    case 'unary': {
      const arg = optimiseFilter(e.arg);
      if (arg.k === 'num') return { k: 'num', value: unary(e.op, arg.value), span: e.span };
      return { ...e, arg };
    }
    case 'binary': {
      const left = optimiseFilter(e.left);
      if (left.k === 'num' && e.op === '&&' && left.value === 0n)
        return { k: 'num', value: 0n, span: e.span };
      if (left.k === 'num' && e.op === '||' && left.value !== 0n)
        return { k: 'num', value: 1n, span: e.span };
      const right = optimiseFilter(e.right);
      if (left.k === 'num' && right.k === 'num') {
        const v = binary(e.op, left.value, right.value);
        if (v !== undefined) return { k: 'num', value: v, span: e.span };
      }
      return { ...e, left, right };
    }
  }
}
