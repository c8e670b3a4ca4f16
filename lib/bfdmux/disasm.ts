// A readable listing of bytecode, in the manner of `tcpdump -d`: each instruction
// with its byte offset, indented by nesting, immediates in decimal and hex.
import { BINARY_SYMBOL, IMM_WIDTH, OP_NAME, Op } from './opcodes.ts';
import type { PNode } from './verify.ts';

export function disassemble(root: PNode, code: Uint8Array): string[] {
  const out: string[] = [];
  const walk = (n: PNode, depth: number) => {
    const at = `(${String(n.at).padStart(3, '0')})`;
    const pad = '  '.repeat(depth);
    const name = OP_NAME[n.op]!;
    if (n.value !== undefined) {
      const u = BigInt.asUintN(64, n.value);
      const bytes = Array.from(code.subarray(n.at, n.at + 1 + IMM_WIDTH[n.op]!), hex).join(' ');
      out.push(
        `${at} ${pad}${name.padEnd(8)} #${u}${u > 9n ? ` (0x${u.toString(16)})` : ''}`.padEnd(56) +
          `; ${bytes}`,
      );
      return;
    }
    if (n.op === Op.AND || n.op === Op.OR) {
      const size =
        (code[n.at + 1]! | (code[n.at + 2]! << 8) | (code[n.at + 3]! << 16) | (code[n.at + 4]! << 24)) >>> 0;
      out.push(
        `${at} ${pad}${name.padEnd(8)} skip ${size} -> (${String(n.at + 5 + size).padStart(3, '0')})`.padEnd(
          56,
        ) + `; ${Array.from(code.subarray(n.at, n.at + 5), hex).join(' ')}`,
      );
    } else out.push(`${at} ${pad}${name}`.padEnd(56) + `; ${hex(code[n.at]!)}`);
    if (n.a) walk(n.a, depth + 1);
    if (n.b) walk(n.b, depth + 1);
  };
  walk(root, 0);
  return out;
}

const LOADS: Record<number, string> = {
  [Op.LOAD8]: 'int8',
  [Op.LOAD16]: 'int16',
  [Op.LOAD32]: 'int32',
  [Op.LOAD64]: 'int64',
};

/** The expression a program computes, fully parenthesised. */
export function decompile(n: PNode): string {
  if (n.value !== undefined) {
    const u = BigInt.asUintN(64, n.value);
    return u > 255n ? `0x${u.toString(16)}` : String(u);
  }
  if (n.width !== undefined) return `${LOADS[n.op]}[${decompile(n.a!)}]`;
  if (n.op === Op.NOT) return `!${decompile(n.a!)}`;
  if (n.op === Op.BNOT) return `~${decompile(n.a!)}`;
  return `(${decompile(n.a!)} ${BINARY_SYMBOL[n.op]} ${decompile(n.b!)})`;
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
