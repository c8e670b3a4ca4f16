// A filter that does not compile: what is wrong and where (a column, and a caret
// under it), as a registry error (BFDMUX_ERR_SYNTAX and friends).
import { type ErrName, FishnetError } from '../../protocols/errors.ts';
import type { Span } from './ast.ts';

export class FilterError extends FishnetError {
  constructor(
    code: ErrName,
    readonly expression: string,
    readonly span: Span,
    readonly reason: string,
  ) {
    super(code, `column ${span.start + 1}: ${reason}`);
    this.name = 'FilterError';
  }

  /** 1-based column of the problem. */
  get column(): number {
    return this.span.start + 1;
  }

  /** The message, the expression, and a caret under the place. */
  format(): string {
    const width = Math.max(1, Math.min(this.span.end, this.expression.length) - this.span.start);
    return `error: ${this.reason} at column ${this.column}\n  ${this.expression}\n  ${' '.repeat(this.span.start)}^${'~'.repeat(width - 1)}`;
  }
}
