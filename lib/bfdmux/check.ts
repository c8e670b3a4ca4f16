// Checks on a parsed filter before code is generated: nesting depth (the verifier and
// the executors recurse) and code size.
import type { Expr } from './ast.ts';
import { FilterError } from './errors.ts';
import { MAX_DEPTH } from './opcodes.ts';

export function checkFilter(e: Expr, src: string): void {
  // Iterative, so that a deep expression is reported rather than overflowing the stack here.
  const stack: [Expr, number][] = [[e, 1]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (d > MAX_DEPTH) {
      throw new FilterError(
        'BFDMUX_ERR_CODE_TOO_LONG',
        src,
        x.span,
        `expression nested deeper than ${MAX_DEPTH} operators`,
      );
    }
    if (x.k === 'load') stack.push([x.offset, d + 1]);
    else if (x.k === 'unary') stack.push([x.arg, d + 1]);
    else if (x.k === 'binary') stack.push([x.left, d + 1], [x.right, d + 1]);
  }
}
