// Generate bfdmux bytecode from a filter expression: prefix order, the smallest
// immediate that holds each literal, && and || with the byte count of their operands.
import type { Expr } from './ast.ts';
import { FilterError } from './errors.ts';
import { MAX_CODE, Op, SYMBOL_OP } from './opcodes.ts';

const LOAD_OP = { 1: Op.LOAD8, 2: Op.LOAD16, 4: Op.LOAD32, 8: Op.LOAD64 } as const;

export function generateCode(e: Expr, src: string): Uint8Array {
  const out: number[] = [];
  const emit = (x: Expr): void => {
    switch (x.k) {
      case 'num': {
        const v = x.value;
        const width = v < 0x100n ? 1 : v < 0x10000n ? 2 : v < 0x1_0000_0000n ? 4 : 8;
        out.push(width === 1 ? Op.INT8 : width === 2 ? Op.INT16 : width === 4 ? Op.INT32 : Op.INT64);
        for (let i = 0; i < width; i++) out.push(Number((v >> BigInt(8 * i)) & 0xffn));
        return;
      }
      case 'load':
        out.push(LOAD_OP[x.width]);
        emit(x.offset);
        return;
      case 'unary':
        out.push(x.op === '!' ? Op.NOT : Op.BNOT);
        emit(x.arg);
        return;
      case 'binary': {
        const op = SYMBOL_OP[x.op]!;
        out.push(op);
        if (op === Op.AND || op === Op.OR) {
          const at = out.length;
          out.push(0, 0, 0, 0);
          emit(x.left);
          emit(x.right);
          const size = out.length - at - 4;
          out[at] = size & 0xff;
          out[at + 1] = (size >>> 8) & 0xff;
          out[at + 2] = (size >>> 16) & 0xff;
          out[at + 3] = size >>> 24;
        } else {
          emit(x.left);
          emit(x.right);
        }
        return;
      }
    }
  };
  emit(e);
  if (out.length > MAX_CODE) {
    throw new FilterError(
      'BFDMUX_ERR_CODE_TOO_LONG',
      src,
      e.span,
      `the filter compiles to ${out.length} bytes (at most ${MAX_CODE})`,
    );
  }
  return Uint8Array.from(out);
}
