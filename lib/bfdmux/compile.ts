// The filter compiler's front door: expression text in, verified bytecode out.
// parse -> check -> optimise -> generate -> verify, each in its own file.
import { checkFilter } from './check.ts';
import { generateCode } from './codegen.ts';
import { FilterError } from './errors.ts';
import { optimiseFilter } from './optimise.ts';
import { parseFilter } from './parse.ts';
import type { Program } from './verify.ts';
import { verifyFilter } from './verify.ts';

export interface CompiledFilter {
  readonly expression: string;
  readonly code: Uint8Array;
  readonly program: Program;
  /** Bytes of a packet the filter may read (Infinity when a computed offset is unbounded). */
  readonly lastByteRead: number;
}

/** Compile a filter expression. Throws a FilterError naming the column of the problem. */
export function compileFilter(expression: string, opts: { optimise?: boolean } = {}): CompiledFilter {
  const ast = parseFilter(expression);
  checkFilter(ast, expression);
  const code = generateCode(opts.optimise === false ? ast : optimiseFilter(ast), expression);
  const v = verifyFilter(code);
  if (!v.ok) {
    // Generated code always verifies; if it does not, that is a compiler bug worth a clear report.
    throw new FilterError(
      v.error,
      expression,
      ast.span,
      `internal: generated code failed verification: ${v.reason}`,
    );
  }
  return { expression, code, program: v.program, lastByteRead: v.program.lastByteRead };
}

export function toHex(code: Uint8Array): string {
  return Array.from(code, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function fromHex(hex: string): Uint8Array | undefined {
  const h = hex.replace(/\s+/g, '');
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) return undefined;
  return Uint8Array.from(h.match(/../g) ?? [], (x) => Number.parseInt(x, 16));
}
