// The VM's instruction compiler: a verified narrow program (see verify.ts) decoded
// once into a flat postfix instruction array over a constant pool, with fused atoms
// (`load == constant`, a masked load, a header-length load) where they occur.

import { Op } from './opcodes.ts';
import type { PNode, Program } from './verify.ts';
import { BIN, I, type Prepared } from './vm-isa.ts';

export function prepare(program: Program): Prepared {
  if (!program.narrow) return { program };
  const ins: number[] = [];
  const consts: number[] = [];
  const k = (v: number) => {
    const i = consts.indexOf(v);
    return i >= 0 ? i : consts.push(v) - 1;
  };
  const constOf = (n: PNode | undefined) => (n?.value !== undefined ? Number(n.value) : undefined);
  const constOffset = (n: PNode) => {
    const off = constOf(n.a);
    return n.width !== undefined && off !== undefined && off >= 0 && off < 0x7fff_ffff ? off : undefined;
  };
  const width = (w: number, one: number) => one + (w === 1 ? 0 : w === 2 ? 1 : 2);
  const emit = (n: PNode): void => {
    const c = constOf(n);
    if (c !== undefined) {
      ins.push(I.PUSHK, k(c));
      return;
    }
    if (n.width !== undefined) {
      const off = constOffset(n);
      const aff = off === undefined && n.width !== 8 ? affineOf(n.a!) : undefined;
      if (off !== undefined) ins.push(width(n.width, I.LD1K), off);
      else if (aff) ins.push(width(n.width, I.LDAFF1), aff.offset, k(aff.mask), k(aff.mul), k(aff.add));
      else {
        emit(n.a!);
        ins.push(width(n.width, I.LD1));
      }
      return;
    }
    switch (n.op) {
      case Op.NOT:
        emit(n.a!);
        ins.push(I.NOT);
        return;
      case Op.BNOT:
        emit(n.a!);
        ins.push(I.BNOT);
        return;
      case Op.AND: {
        // A whole && chain at once: every operand that is 0 jumps straight to the end.
        const terms = chain(n, Op.AND);
        const patches: number[] = [];
        emit(terms[0]!);
        for (const term of terms.slice(1)) {
          const off = term.op === Op.EQUAL ? atomOf(term) : undefined;
          if (off && off.mask === undefined) {
            ins.push(width(off.width, I.CEQ1K), off.offset, k(off.value), 0);
          } else if (off) {
            ins.push(width(off.width, I.CEQM1K), off.offset, k(off.mask!), k(off.value), 0);
          } else {
            ins.push(I.JZAND, 0);
            patches.push(ins.length - 1);
            emit(term);
            continue;
          }
          patches.push(ins.length - 1);
        }
        const last = terms[terms.length - 1]!;
        if (!isBoolean(last) || !isBoolean(terms[0]!)) ins.push(I.BOOL);
        for (const at of patches) ins[at] = ins.length;
        return;
      }
      case Op.OR: {
        emit(n.a!);
        ins.push(I.JNZOR, 0);
        const patch = ins.length - 1;
        emit(n.b!);
        if (!isBoolean(n.b!)) ins.push(I.BOOL);
        ins[patch] = ins.length;
        return;
      }
    }
    // An operation with a constant operand (either side for the commutative ones).
    const rc = constOf(n.b);
    const lc = constOf(n.a);
    const commutative = n.op === Op.EQUAL || n.op === Op.ADD || n.op === Op.MULT || n.op === Op.BAND;
    const kc = rc ?? (commutative ? lc : undefined);
    const other = rc !== undefined ? n.a! : n.b!;
    if (kc !== undefined) {
      if (n.op === Op.EQUAL) {
        const off = constOffset(other);
        if (off !== undefined) ins.push(width(other.width!, I.EQ1K), off, k(kc));
        else {
          emit(other);
          ins.push(I.EQK, k(kc));
        }
        return;
      }
      const fused =
        n.op === Op.ADD
          ? I.ADDK
          : n.op === Op.SUB
            ? I.SUBK
            : n.op === Op.MULT
              ? I.MULK
              : n.op === Op.BAND
                ? n.u32
                  ? I.BANDUK
                  : I.BANDK
                : -1;
      if (fused >= 0) {
        emit(other);
        ins.push(fused, k(kc));
        return;
      }
    }
    emit(n.a!);
    emit(n.b!);
    if (n.op === Op.BAND || n.op === Op.BOR || n.op === Op.BXOR) {
      ins.push((n.u32 ? I.BANDU : I.BAND) + (n.op === Op.BAND ? 0 : n.op === Op.BOR ? 1 : 2));
    } else ins.push(BIN[n.op]!);
  };
  // `load(constant offset) == constant`: one instruction.
  const atomOf = (n: PNode): { width: number; offset: number; value: number; mask?: number } | undefined => {
    const [x, c] =
      constOf(n.b) !== undefined
        ? [n.a!, constOf(n.b)!]
        : constOf(n.a) !== undefined
          ? [n.b!, constOf(n.a)!]
          : [];
    if (!x || c === undefined) return undefined;
    // (load & mask) == c, with the load read as uint32
    if (x.op === Op.BAND && x.u32) {
      const [l, m] =
        constOf(x.b) !== undefined
          ? [x.a!, constOf(x.b)!]
          : constOf(x.a) !== undefined
            ? [x.b!, constOf(x.a)!]
            : [];
      if (!l || m === undefined || l.width === undefined) return undefined;
      const off = constOffset(l);
      return off === undefined ? undefined : { width: l.width, offset: off, value: c, mask: m };
    }
    if (x.width === undefined) return undefined;
    const off = constOffset(x);
    return off === undefined ? undefined : { width: x.width, offset: off, value: c };
  };

  // `c + ((int8[off] & m) * k)` in any order: the offset of a header whose length is in a byte.
  const affineOf = (n: PNode): { offset: number; mask: number; mul: number; add: number } | undefined => {
    let add = 0;
    let x = n;
    if (x.op === Op.ADD) {
      const c = constOf(x.b) ?? constOf(x.a);
      if (c === undefined) return undefined;
      add = c;
      x = constOf(x.b) !== undefined ? x.a! : x.b!;
    }
    let mul = 1;
    if (x.op === Op.MULT) {
      const c = constOf(x.b) ?? constOf(x.a);
      if (c === undefined) return undefined;
      mul = c;
      x = constOf(x.b) !== undefined ? x.a! : x.b!;
    }
    let mask = 0xff;
    if (x.op === Op.BAND) {
      const c = constOf(x.b) ?? constOf(x.a);
      if (c === undefined || c < 0 || c > 0xff) return undefined;
      mask = c;
      x = constOf(x.b) !== undefined ? x.a! : x.b!;
    }
    if (x.width !== 1) return undefined;
    const offset = constOffset(x);
    if (offset === undefined || (add === 0 && mul === 1 && mask === 0xff)) return undefined;
    // Exact on numbers: the verifier has checked the ranges of the whole expression.
    return { offset, mask, mul, add };
  };
  // The top-level && chain: a term that fails decides the verdict at once.
  const root = program.root;
  if (root.op === Op.AND) {
    const terms = chain(root, Op.AND);
    for (const term of terms.slice(0, -1)) {
      const a = term.op === Op.EQUAL ? atomOf(term) : undefined;
      if (a && a.mask === undefined) ins.push(width(a.width, I.REQ1K), a.offset, k(a.value));
      else if (a) ins.push(width(a.width, I.REQM1K), a.offset, k(a.mask!), k(a.value));
      else {
        emit(term);
        ins.push(I.REQT);
      }
    }
    emit(terms[terms.length - 1]!);
  } else emit(root);
  ins.push(I.RET);
  return { program, ins: Int32Array.from(ins), consts: Float64Array.from(consts) };
}

/** The operands of a chain of one associative operator, left to right. */
function chain(n: PNode, op: number): PNode[] {
  const out: PNode[] = [];
  const walk = (x: PNode) => {
    if (x.op === op) {
      walk(x.a!);
      walk(x.b!);
    } else out.push(x);
  };
  walk(n);
  return out;
}

/** Its value is always 0 or 1 (comparisons, !, && and ||): no BOOL needed after it. */
function isBoolean(n: PNode): boolean {
  return n.lo >= 0n && n.hi <= 1n && n.width === undefined;
}
