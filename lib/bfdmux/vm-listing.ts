// The VM's instruction listing of a prepared program (for tests and `fishnet filter compile`).

import { I, OPERANDS, type Prepared } from './vm-isa.ts';

/** The VM's instruction listing of a prepared program (for tests and `fishnet filter compile`). */
export function instructions(p: Prepared): string[] {
  if (!p.ins) return ['(64-bit program: evaluated on its tree with BigInt arithmetic)'];
  const names = Object.fromEntries(Object.entries(I).map(([k, v]) => [v, k]));
  const out: string[] = [];
  for (let pc = 0; pc < p.ins.length; ) {
    const op = p.ins[pc]!;
    const arity = OPERANDS[op] ?? 0;
    const a = p.ins[pc + 1]!;
    let shown = '';
    if (op === I.JZAND || op === I.JNZOR) shown = ` -> ${a}`;
    else if (op === I.EQ1K || op === I.EQ2K || op === I.EQ4K)
      shown = ` [${a}], #${p.consts![p.ins[pc + 2]!]}`;
    else if (op === I.CEQ1K || op === I.CEQ2K || op === I.CEQ4K) {
      shown = ` [${a}], #${p.consts![p.ins[pc + 2]!]} else -> ${p.ins[pc + 3]}`;
    } else if (op === I.REQ1K || op === I.REQ2K || op === I.REQ4K) {
      shown = ` [${a}], #${p.consts![p.ins[pc + 2]!]} else no match`;
    } else if (op === I.REQM1K || op === I.REQM2K || op === I.REQM4K) {
      shown = ` [${a}] & #${p.consts![p.ins[pc + 2]!]}, #${p.consts![p.ins[pc + 3]!]} else no match`;
    } else if (op === I.LDAFF1 || op === I.LDAFF2 || op === I.LDAFF4) {
      const c = (i: number) => p.consts![p.ins![pc + i]!];
      shown = ` [${c(4)} + (p[${a}] & ${c(2)}) * ${c(3)}]`;
    } else if (op === I.CEQM1K || op === I.CEQM2K || op === I.CEQM4K) {
      shown = ` [${a}] & #${p.consts![p.ins[pc + 2]!]}, #${p.consts![p.ins[pc + 3]!]} else -> ${p.ins[pc + 4]}`;
    } else if (op === I.LD1K || op === I.LD2K || op === I.LD4K) shown = ` [${a}]`;
    else if (arity === 1) shown = ` #${p.consts![a]}`;
    out.push(`${String(pc).padStart(3)}: ${names[op]}${shown}`);
    pc += 1 + arity;
  }
  return out;
}
