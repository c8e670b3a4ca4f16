// The interpreter of wide programs (64-bit values): evaluation on the verified tree
// with BigInt arithmetic. Slower, and only for filters that need it.

import { Op, BINARY_SYMBOL as SYMBOL } from './opcodes.ts';
import { binary as binaryOp, unary as unaryOp } from './semantics.ts';
import { DIV_ERROR, LOAD_ERROR, MATCH, NO_MATCH, type Verdict } from './verdicts.ts';
import type { PNode } from './verify.ts';

class Fail {
  constructor(readonly verdict: number) {}
}

/** 64-bit evaluation on the tree: values are uint64 bit patterns as bigint. */
export function runWide(root: PNode, p: Uint8Array, n: number): Verdict {
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
