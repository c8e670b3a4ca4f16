// The bfdmux VM: run a verified filter on a packet.
//
// A verdict is 1 (match), 0 (no match), or minus a registry error code
// (-Err.BFDMUX_ERR_LOAD_OUT_OF_BOUNDS, -Err.BFDMUX_ERR_DIV_BY_ZERO; for unverifiable
// code the verifier's error). An error is never a match, and nothing here throws.
//
// A narrow program (see verify.ts) is decoded once into a flat postfix instruction
// array and interpreted over a Float64Array stack: no allocation per packet. A wide
// one (64-bit values) is evaluated on its tree with BigInt arithmetic.

import { Err } from '../../protocols/errors.ts';
import { Op, BINARY_SYMBOL as SYMBOL } from './opcodes.ts';
import { binary as binaryOp, unary as unaryOp } from './semantics.ts';
import { type PNode, type Program, verifyFilter } from './verify.ts';

export const MATCH = 1;
export const NO_MATCH = 0;
export type Verdict = number;

export const LOAD_ERROR = -Err.BFDMUX_ERR_LOAD_OUT_OF_BOUNDS;
export const DIV_ERROR = -Err.BFDMUX_ERR_DIV_BY_ZERO;

// Instructions: opcode, then its operand words. The top of the stack is kept in a
// local (t); the rest of the stack is a Float64Array. An atom `load == constant`
// is one instruction, as is an operation with a constant operand.
const I = {
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

const OPERANDS: Record<number, number> = {
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

const BIN: Record<number, number> = {
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

const MAX_STACK = 512;
const stack = new Float64Array(MAX_STACK);

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

// A cache for callers that hand raw code: verified and decoded once per code array.
// (Code must not be changed after it has run; use prepare() to hold a program yourself.)
const cache = new WeakMap<Uint8Array, Prepared | number>();

/** Verify `code` and prepare it, or the verdict for unverifiable code (minus its error code). */
export function load(code: Uint8Array): Prepared | number {
  let p = cache.get(code);
  if (p === undefined) {
    const v = verifyFilter(code);
    p = v.ok ? prepare(v.program) : -Err[v.error];
    cache.set(code, p);
  }
  return p;
}

/** Code as a function of (packet, length), verified and prepared once: the VM's counterpart of jitFilter. */
export function vmFilter(code: Uint8Array): (packet: Uint8Array, length: number) => Verdict {
  const p = load(code);
  if (typeof p === 'number') return () => p;
  return (packet, length) => executeFilter(p, packet, length);
}

/** Run a filter (its code, or a prepared program) on the first `len` bytes of `packet`. */
export function executeFilter(
  filter: Uint8Array | Prepared,
  packet: Uint8Array,
  len = packet.length,
): Verdict {
  const p = filter instanceof Uint8Array ? load(filter) : filter;
  if (typeof p === 'number') return p;
  if (len > packet.length) len = packet.length;
  return p.ins ? runNarrow(p.ins, p.consts!, packet, len) : runWide(p.program.root, packet, len);
}

function runNarrow(ins: Int32Array, consts: Float64Array, p: Uint8Array, n: number): Verdict {
  const s = stack;
  let sp = 0; // s[1..sp] below the top; s[0] is never read as a value
  let t = 0; // the top of the stack
  let pc = 0;
  for (;;) {
    switch (ins[pc]) {
      case I.RET:
        return t !== 0 ? MATCH : NO_MATCH;
      case I.PUSHK:
        s[++sp] = t;
        t = consts[ins[pc + 1]!]!;
        pc += 2;
        break;
      case I.LD1K: {
        const o = ins[pc + 1]!;
        if (o + 1 > n) return LOAD_ERROR;
        s[++sp] = t;
        t = p[o]!;
        pc += 2;
        break;
      }
      case I.LD2K: {
        const o = ins[pc + 1]!;
        if (o + 2 > n) return LOAD_ERROR;
        s[++sp] = t;
        t = (p[o]! << 8) | p[o + 1]!;
        pc += 2;
        break;
      }
      case I.LD4K: {
        const o = ins[pc + 1]!;
        if (o + 4 > n) return LOAD_ERROR;
        s[++sp] = t;
        t = ((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) >>> 0;
        pc += 2;
        break;
      }
      case I.EQ1K: {
        const o = ins[pc + 1]!;
        if (o + 1 > n) return LOAD_ERROR;
        s[++sp] = t;
        t = p[o]! === consts[ins[pc + 2]!] ? 1 : 0;
        pc += 3;
        break;
      }
      case I.EQ2K: {
        const o = ins[pc + 1]!;
        if (o + 2 > n) return LOAD_ERROR;
        s[++sp] = t;
        t = ((p[o]! << 8) | p[o + 1]!) === consts[ins[pc + 2]!] ? 1 : 0;
        pc += 3;
        break;
      }
      case I.EQ4K: {
        const o = ins[pc + 1]!;
        if (o + 4 > n) return LOAD_ERROR;
        s[++sp] = t;
        t =
          ((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) >>> 0 === consts[ins[pc + 2]!]
            ? 1
            : 0;
        pc += 3;
        break;
      }
      case I.CEQ1K: {
        if (t === 0) {
          pc = ins[pc + 3]!;
          break;
        }
        const o = ins[pc + 1]!;
        if (o + 1 > n) return LOAD_ERROR;
        t = p[o]! === consts[ins[pc + 2]!] ? 1 : 0;
        pc += 4;
        break;
      }
      case I.CEQ2K: {
        if (t === 0) {
          pc = ins[pc + 3]!;
          break;
        }
        const o = ins[pc + 1]!;
        if (o + 2 > n) return LOAD_ERROR;
        t = ((p[o]! << 8) | p[o + 1]!) === consts[ins[pc + 2]!] ? 1 : 0;
        pc += 4;
        break;
      }
      case I.CEQ4K: {
        if (t === 0) {
          pc = ins[pc + 3]!;
          break;
        }
        const o = ins[pc + 1]!;
        if (o + 4 > n) return LOAD_ERROR;
        t =
          ((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) >>> 0 === consts[ins[pc + 2]!]
            ? 1
            : 0;
        pc += 4;
        break;
      }
      case I.CEQM1K: {
        if (t === 0) {
          pc = ins[pc + 4]!;
          break;
        }
        const o = ins[pc + 1]!;
        if (o + 1 > n) return LOAD_ERROR;
        t = (p[o]! & consts[ins[pc + 2]!]!) >>> 0 === consts[ins[pc + 3]!] ? 1 : 0;
        pc += 5;
        break;
      }
      case I.CEQM2K: {
        if (t === 0) {
          pc = ins[pc + 4]!;
          break;
        }
        const o = ins[pc + 1]!;
        if (o + 2 > n) return LOAD_ERROR;
        t = (((p[o]! << 8) | p[o + 1]!) & consts[ins[pc + 2]!]!) >>> 0 === consts[ins[pc + 3]!] ? 1 : 0;
        pc += 5;
        break;
      }
      case I.CEQM4K: {
        if (t === 0) {
          pc = ins[pc + 4]!;
          break;
        }
        const o = ins[pc + 1]!;
        if (o + 4 > n) return LOAD_ERROR;
        t =
          (((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) & consts[ins[pc + 2]!]!) >>>
            0 ===
          consts[ins[pc + 3]!]
            ? 1
            : 0;
        pc += 5;
        break;
      }
      case I.REQ1K: {
        const o = ins[pc + 1]!;
        if (o + 1 > n) return LOAD_ERROR;
        if (p[o]! !== consts[ins[pc + 2]!]) return NO_MATCH;
        pc += 3;
        break;
      }
      case I.REQ2K: {
        const o = ins[pc + 1]!;
        if (o + 2 > n) return LOAD_ERROR;
        if (((p[o]! << 8) | p[o + 1]!) !== consts[ins[pc + 2]!]) return NO_MATCH;
        pc += 3;
        break;
      }
      case I.REQ4K: {
        const o = ins[pc + 1]!;
        if (o + 4 > n) return LOAD_ERROR;
        if (((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) >>> 0 !== consts[ins[pc + 2]!])
          return NO_MATCH;
        pc += 3;
        break;
      }
      case I.REQM1K: {
        const o = ins[pc + 1]!;
        if (o + 1 > n) return LOAD_ERROR;
        if ((p[o]! & consts[ins[pc + 2]!]!) >>> 0 !== consts[ins[pc + 3]!]) return NO_MATCH;
        pc += 4;
        break;
      }
      case I.REQM2K: {
        const o = ins[pc + 1]!;
        if (o + 2 > n) return LOAD_ERROR;
        if ((((p[o]! << 8) | p[o + 1]!) & consts[ins[pc + 2]!]!) >>> 0 !== consts[ins[pc + 3]!])
          return NO_MATCH;
        pc += 4;
        break;
      }
      case I.REQM4K: {
        const o = ins[pc + 1]!;
        if (o + 4 > n) return LOAD_ERROR;
        const v = ((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) & consts[ins[pc + 2]!]!;
        if (v >>> 0 !== consts[ins[pc + 3]!]) return NO_MATCH;
        pc += 4;
        break;
      }
      case I.REQT:
        if (t === 0) return NO_MATCH;
        t = s[sp--]!;
        pc++;
        break;
      case I.LDAFF1:
      case I.LDAFF2:
      case I.LDAFF4: {
        const base = ins[pc + 1]!;
        if (base + 1 > n) return LOAD_ERROR;
        const o = ((p[base]! & consts[ins[pc + 2]!]!) >>> 0) * consts[ins[pc + 3]!]! + consts[ins[pc + 4]!]!;
        const w = ins[pc] === I.LDAFF1 ? 1 : ins[pc] === I.LDAFF2 ? 2 : 4;
        if (!(o >= 0 && o + w <= n)) return LOAD_ERROR;
        s[++sp] = t;
        t =
          w === 1
            ? p[o]!
            : w === 2
              ? (p[o]! << 8) | p[o + 1]!
              : ((p[o]! << 24) | (p[o + 1]! << 16) | (p[o + 2]! << 8) | p[o + 3]!) >>> 0;
        pc += 5;
        break;
      }
      case I.LD1:
        if (!(t >= 0 && t + 1 <= n)) return LOAD_ERROR;
        t = p[t]!;
        pc++;
        break;
      case I.LD2:
        if (!(t >= 0 && t + 2 <= n)) return LOAD_ERROR;
        t = (p[t]! << 8) | p[t + 1]!;
        pc++;
        break;
      case I.LD4:
        if (!(t >= 0 && t + 4 <= n)) return LOAD_ERROR;
        t = ((p[t]! << 24) | (p[t + 1]! << 16) | (p[t + 2]! << 8) | p[t + 3]!) >>> 0;
        pc++;
        break;
      case I.EQK:
        t = t === consts[ins[pc + 1]!] ? 1 : 0;
        pc += 2;
        break;
      case I.ADDK:
        t += consts[ins[pc + 1]!]!;
        pc += 2;
        break;
      case I.SUBK:
        t -= consts[ins[pc + 1]!]!;
        pc += 2;
        break;
      case I.MULK:
        t *= consts[ins[pc + 1]!]!;
        pc += 2;
        break;
      case I.BANDUK:
        t = (t & consts[ins[pc + 1]!]!) >>> 0;
        pc += 2;
        break;
      case I.BANDK:
        t &= consts[ins[pc + 1]!]!;
        pc += 2;
        break;
      case I.JZAND:
        if (t === 0) pc = ins[pc + 1]!;
        else {
          t = s[sp--]!;
          pc += 2;
        }
        break;
      case I.JNZOR:
        if (t !== 0) {
          t = 1;
          pc = ins[pc + 1]!;
        } else {
          t = s[sp--]!;
          pc += 2;
        }
        break;
      case I.BOOL:
        t = t !== 0 ? 1 : 0;
        pc++;
        break;
      case I.NOT:
        t = t === 0 ? 1 : 0;
        pc++;
        break;
      case I.BNOT:
        t = -t - 1;
        pc++;
        break;
      default: {
        const a = s[sp--]!;
        const b = t;
        switch (ins[pc]) {
          case I.ADD:
            t = a + b;
            break;
          case I.SUB:
            t = a - b;
            break;
          case I.MUL:
            t = a * b;
            break;
          case I.DIV:
            if (b === 0) return DIV_ERROR;
            t = (a - (a % b)) / b;
            break;
          case I.MOD:
            if (b === 0) return DIV_ERROR;
            t = a % b;
            break;
          case I.EQ:
            t = a === b ? 1 : 0;
            break;
          case I.NE:
            t = a !== b ? 1 : 0;
            break;
          case I.SGT:
            t = a > b ? 1 : 0;
            break;
          case I.SLT:
            t = a < b ? 1 : 0;
            break;
          case I.SGE:
            t = a >= b ? 1 : 0;
            break;
          case I.SLE:
            t = a <= b ? 1 : 0;
            break;
          // Unsigned comparison of two's-complement values: a negative one is the larger.
          case I.UGT:
            t = (a < 0 === b < 0 ? a > b : a < 0) ? 1 : 0;
            break;
          case I.ULT:
            t = (a < 0 === b < 0 ? a < b : b < 0) ? 1 : 0;
            break;
          case I.UGE:
            t = (a < 0 === b < 0 ? a >= b : a < 0) ? 1 : 0;
            break;
          case I.ULE:
            t = (a < 0 === b < 0 ? a <= b : b < 0) ? 1 : 0;
            break;
          case I.BAND:
            t = a & b;
            break;
          case I.BOR:
            t = a | b;
            break;
          case I.BXOR:
            t = a ^ b;
            break;
          case I.BANDU:
            t = (a & b) >>> 0;
            break;
          case I.BORU:
            t = (a | b) >>> 0;
            break;
          case I.BXORU:
            t = (a ^ b) >>> 0;
            break;
          default:
            return -Err.BFDMUX_ERR_BAD_OPCODE;
        }
        pc++;
      }
    }
  }
}

class Fail {
  constructor(readonly verdict: number) {}
}

/** 64-bit evaluation on the tree: values are uint64 bit patterns as bigint. */
function runWide(root: PNode, p: Uint8Array, n: number): Verdict {
  const ev = (x: PNode): bigint => {
    if (x.value !== undefined) return BigInt.asUintN(64, x.value);
    if (x.width !== undefined) {
      const o = ev(x.a!);
      if (o + BigInt(x.width) > BigInt(n)) throw new Fail(LOAD_ERROR);
      let v = 0n;
      for (let i = 0; i < x.width; i++) v = (v << 8n) | BigInt(p[Number(o) + i]!);
      return v;
    }
    switch (x.op) {
      case Op.NOT:
        return unaryOp('!', ev(x.a!));
      case Op.BNOT:
        return unaryOp('~', ev(x.a!));
      case Op.AND:
        return ev(x.a!) !== 0n && ev(x.b!) !== 0n ? 1n : 0n;
      case Op.OR:
        return ev(x.a!) !== 0n || ev(x.b!) !== 0n ? 1n : 0n;
    }
    const a = ev(x.a!);
    const b = ev(x.b!);
    const r = binaryOp(SYMBOL[x.op]!, a, b);
    if (r === undefined) throw new Fail(DIV_ERROR);
    return r;
  };
  try {
    return ev(root) !== 0n ? MATCH : NO_MATCH;
  } catch (e) {
    if (e instanceof Fail) return e.verdict;
    throw e;
  }
}

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
