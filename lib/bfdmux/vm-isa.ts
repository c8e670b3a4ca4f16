// The VM's instruction set: opcodes and their operand counts, and how the bfdmux
// binary operators map onto them. Shared by the instruction compiler, the
// interpreter and the listing.

import { Op } from './opcodes.ts';
import type { Program } from './verify.ts';

// Instructions: opcode, then its operand words. The top of the stack is kept in a
// local (t); the rest of the stack is a Float64Array. An atom `load == constant`
// is one instruction, as is an operation with a constant operand.
export const I = {
  RET: 0,
  PUSHK: 1, // k: push consts[k]
  LD1K: 2, // off: push p[off]
  LD2K: 3,
  LD4K: 4,
  LD1: 5, // t = p[t]
  LD2: 6,
  LD4: 7,
  EQ1K: 8, // off k: push p[off] === consts[k]
  EQ2K: 9,
  EQ4K: 10,
  EQK: 11, // k: t = t === consts[k]
  ADDK: 12, // k: t = t + consts[k]
  SUBK: 13,
  MULK: 14,
  BANDUK: 15, // k: t = (t & consts[k]) >>> 0
  BANDK: 16,
  CEQ1K: 22, // off k target: (t 0: jump) else t = p[off] === consts[k]   (an atom inside a && chain)
  CEQ2K: 23,
  CEQ4K: 24,
  CEQM1K: 25, // off mask k target: like CEQ, on (load & consts[mask]) >>> 0
  CEQM2K: 26,
  CEQM4K: 27,
  REQ1K: 53, // off k: at the top-level &&: if p[off] !== consts[k] the verdict is no match
  REQ2K: 54,
  REQ4K: 55,
  REQM1K: 56, // off mask k: the same on (load & consts[mask]) >>> 0
  REQM2K: 57,
  REQM4K: 58,
  REQT: 59, // at the top-level &&: if t is 0 the verdict is no match, else pop
  LDAFF1: 60, // w off mask mul add: push the load at ((p[off] & mask) * mul) + add (a header length)
  LDAFF2: 61,
  LDAFF4: 62,
  JZAND: 17, // target: && (t 0: keep it, jump; else pop)
  JNZOR: 18, // target: || (t non-zero: make it 1, jump; else pop)
  BOOL: 19,
  NOT: 20,
  BNOT: 21,
  // binary: t = pop() OP t
  ADD: 32,
  SUB: 33,
  MUL: 34,
  DIV: 35,
  MOD: 36,
  EQ: 37,
  NE: 38,
  SGT: 39,
  SLT: 40,
  SGE: 41,
  SLE: 42,
  UGT: 43,
  ULT: 44,
  UGE: 45,
  ULE: 46,
  BAND: 47,
  BOR: 48,
  BXOR: 49,
  BANDU: 50,
  BORU: 51,
  BXORU: 52,
} as const;

export const OPERANDS: Record<number, number> = {
  [I.PUSHK]: 1,
  [I.LD1K]: 1,
  [I.LD2K]: 1,
  [I.LD4K]: 1,
  [I.EQ1K]: 2,
  [I.EQ2K]: 2,
  [I.EQ4K]: 2,
  [I.EQK]: 1,
  [I.ADDK]: 1,
  [I.SUBK]: 1,
  [I.MULK]: 1,
  [I.BANDUK]: 1,
  [I.BANDK]: 1,
  [I.JZAND]: 1,
  [I.JNZOR]: 1,
  [I.CEQ1K]: 3,
  [I.CEQ2K]: 3,
  [I.CEQ4K]: 3,
  [I.CEQM1K]: 4,
  [I.CEQM2K]: 4,
  [I.CEQM4K]: 4,
  [I.REQ1K]: 2,
  [I.REQ2K]: 2,
  [I.REQ4K]: 2,
  [I.REQM1K]: 3,
  [I.REQM2K]: 3,
  [I.REQM4K]: 3,
  [I.LDAFF1]: 4,
  [I.LDAFF2]: 4,
  [I.LDAFF4]: 4,
};

export const BIN: Record<number, number> = {
  [Op.ADD]: I.ADD,
  [Op.SUB]: I.SUB,
  [Op.MULT]: I.MUL,
  [Op.IDIV]: I.DIV,
  [Op.MOD]: I.MOD,
  [Op.EQUAL]: I.EQ,
  [Op.UNEQUAL]: I.NE,
  [Op.SGREATER]: I.SGT,
  [Op.SLESS]: I.SLT,
  [Op.SGREATEREQUAL]: I.SGE,
  [Op.SLESSEQUAL]: I.SLE,
  [Op.UGREATER]: I.UGT,
  [Op.ULESS]: I.ULT,
  [Op.UGREATEREQUAL]: I.UGE,
  [Op.ULESSEQUAL]: I.ULE,
};

/** A program ready to run on the VM. */
export interface Prepared {
  readonly program: Program;
  readonly ins?: Int32Array;
  readonly consts?: Float64Array;
}
