// The verifier: bytecode in, a checked program out, or the reason it is refused.
//
// It decodes the prefix code into a tree and checks that every opcode is known,
// that no operand runs past the end, that every && / || skip lands exactly at the
// end of its operands, that nothing follows the expression, and that the code is
// not too long or too deep. It never throws, whatever the bytes.
//
// It also works out, by interval arithmetic over signed 64-bit values:
//  - lastByteRead: how many bytes of a packet any load can touch (the driver copies
//    that many header bytes before it runs transmit filters); Infinity if unbounded;
//  - whether every value stays within +-(2^53-1) and every operator can be computed
//    exactly on JS numbers ("narrow"), or the program needs 64-bit BigInt arithmetic.

import type { ErrName } from '../../protocols/errors.ts';
import { IMM_WIDTH, LOAD_WIDTH, MAX_CODE, MAX_DEPTH, OP_NAME, Op } from './opcodes.ts';

export interface PNode {
  readonly op: number;
  /** Byte offset of the opcode in the code. */
  readonly at: number;
  readonly a?: PNode;
  readonly b?: PNode;
  /** Immediates: the value as a signed 64-bit integer. */
  readonly value?: bigint;
  /** Loads: bytes read. */
  readonly width?: 1 | 2 | 4 | 8;
  /** The values this node can take, as signed 64-bit integers. */
  readonly lo: bigint;
  readonly hi: bigint;
  /** Exactly computable on JS numbers, this node and everything under it. */
  readonly narrow: boolean;
  /** Bitwise operators on narrow operands: the result is read as uint32 (else as int32). */
  readonly u32?: boolean;
}

export interface Program {
  readonly code: Uint8Array;
  readonly root: PNode;
  /** Every node narrow: the fast executors apply. Otherwise BigInt arithmetic. */
  readonly narrow: boolean;
  /** Bytes of the packet any load may read (an exclusive end offset); Infinity when unbounded. */
  readonly lastByteRead: number;
  readonly loads: number;
}

export type VerifyResult =
  | { readonly ok: true; readonly program: Program }
  | { readonly ok: false; readonly error: ErrName; readonly at: number; readonly reason: string };

const MIN = -(1n << 63n);
const MAX = (1n << 63n) - 1n;
const SAFE = (1n << 53n) - 1n;
const I32 = 1n << 31n;
const U32 = 1n << 32n;

class Refuse {
  constructor(
    readonly error: ErrName,
    readonly at: number,
    readonly reason: string,
  ) {}
}

export function verifyFilter(code: Uint8Array): VerifyResult {
  if (!(code instanceof Uint8Array))
    return { ok: false, error: 'BFDMUX_ERR_BAD_OPCODE', at: 0, reason: 'filter code must be a Uint8Array' };
  if (code.length === 0)
    return { ok: false, error: 'BFDMUX_ERR_CODE_OVERRUN', at: 0, reason: 'empty filter code' };
  if (code.length > MAX_CODE) {
    return {
      ok: false,
      error: 'BFDMUX_ERR_CODE_TOO_LONG',
      at: MAX_CODE,
      reason: `${code.length} bytes, at most ${MAX_CODE}`,
    };
  }
  let loads = 0;
  let last = 0;
  let pos = 0;

  const need = (n: number, what: string) => {
    if (pos + n > code.length)
      throw new Refuse('BFDMUX_ERR_CODE_OVERRUN', pos, `${what} runs past the end of the code`);
  };

  const node = (depth: number): PNode => {
    if (depth > MAX_DEPTH)
      throw new Refuse('BFDMUX_ERR_CODE_TOO_LONG', pos, `nested deeper than ${MAX_DEPTH}`);
    need(1, 'an operand');
    const at = pos;
    const op = code[pos++]!;
    const imm = IMM_WIDTH[op];
    if (imm) {
      need(imm, `the ${imm}-byte immediate of ${OP_NAME[op]}`);
      let v = 0n;
      for (let i = imm - 1; i >= 0; i--) v = (v << 8n) | BigInt(code[pos + i]!);
      pos += imm;
      const value = BigInt.asIntN(64, v);
      return { op, at, value, lo: value, hi: value, narrow: value >= -SAFE && value <= SAFE };
    }
    const width = LOAD_WIDTH[op];
    if (width) {
      const offset = node(depth + 1);
      loads++;
      // The offset is read as unsigned: a negative value is far past any packet.
      if (offset.hi >= 0n) {
        const end = offset.hi >= U32 ? Number.POSITIVE_INFINITY : Number(offset.hi) + width;
        if (end > last) last = end;
      }
      const lo = width === 8 ? MIN : 0n;
      const hi = width === 8 ? MAX : (1n << BigInt(8 * width)) - 1n;
      return { op, at, a: offset, width, lo, hi, narrow: width !== 8 && offset.narrow };
    }
    switch (op) {
      case Op.NOT: {
        const a = node(depth + 1);
        return { op, at, a, lo: 0n, hi: 1n, narrow: a.narrow };
      }
      case Op.BNOT: {
        const a = node(depth + 1);
        return withRange(op, at, a, undefined, -a.hi - 1n, -a.lo - 1n, a.narrow);
      }
      case Op.AND:
      case Op.OR: {
        need(4, `the skip of ${OP_NAME[op]}`);
        const size =
          (code[pos]! | (code[pos + 1]! << 8) | (code[pos + 2]! << 16) | (code[pos + 3]! << 24)) >>> 0;
        pos += 4;
        const start = pos;
        if (start + size > code.length) {
          throw new Refuse(
            'BFDMUX_ERR_BAD_SKIP',
            at,
            `${OP_NAME[op]} skips ${size} bytes, past the end of the code`,
          );
        }
        const a = node(depth + 1);
        const b = node(depth + 1);
        if (pos - start !== size) {
          throw new Refuse(
            'BFDMUX_ERR_BAD_SKIP',
            at,
            `${OP_NAME[op]} skips ${size} bytes but its operands take ${pos - start}`,
          );
        }
        return { op, at, a, b, lo: 0n, hi: 1n, narrow: a.narrow && b.narrow };
      }
    }
    if (!(op in OP_NAME))
      throw new Refuse('BFDMUX_ERR_BAD_OPCODE', at, `unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
    const a = node(depth + 1);
    const b = node(depth + 1);
    return binary(op, at, a, b);
  };

  try {
    const root = node(0);
    if (pos !== code.length) {
      return {
        ok: false,
        error: 'BFDMUX_ERR_TRAILING_CODE',
        at: pos,
        reason: `${code.length - pos} bytes after the end of the expression`,
      };
    }
    return { ok: true, program: { code, root, narrow: root.narrow, lastByteRead: last, loads } };
  } catch (e) {
    if (e instanceof Refuse) return { ok: false, error: e.error, at: e.at, reason: e.reason };
    if (e instanceof RangeError) {
      // Deep recursion in a hostile input: refuse it like any other bad code.
      return { ok: false, error: 'BFDMUX_ERR_CODE_TOO_LONG', at: pos, reason: 'nested too deeply' };
    }
    throw e;
  }
}

function withRange(
  op: number,
  at: number,
  a: PNode,
  b: PNode | undefined,
  lo: bigint,
  hi: bigint,
  narrow: boolean,
): PNode {
  // A result outside the signed 64-bit range wraps: it can then be anything.
  if (lo < MIN || hi > MAX) return { op, at, a, b, lo: MIN, hi: MAX, narrow: false };
  return { op, at, a, b, lo, hi, narrow: narrow && lo >= -SAFE && hi <= SAFE };
}

function binary(op: number, at: number, a: PNode, b: PNode): PNode {
  const both = a.narrow && b.narrow;
  const nonNeg = a.lo >= 0n && b.lo >= 0n;
  switch (op) {
    case Op.EQUAL:
    case Op.UNEQUAL:
    case Op.SGREATER:
    case Op.SLESS:
    case Op.SGREATEREQUAL:
    case Op.SLESSEQUAL:
    case Op.UGREATER:
    case Op.ULESS:
    case Op.UGREATEREQUAL:
    case Op.ULESSEQUAL:
      return { op, at, a, b, lo: 0n, hi: 1n, narrow: both };
    case Op.ADD:
      return withRange(op, at, a, b, a.lo + b.lo, a.hi + b.hi, both);
    case Op.SUB:
      return withRange(op, at, a, b, a.lo - b.hi, a.hi - b.lo, both);
    case Op.MULT: {
      const ps = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi];
      return withRange(op, at, a, b, ps.reduce(minBig), ps.reduce(maxBig), both);
    }
    case Op.IDIV:
      // Unsigned: exact on numbers only when neither operand can be negative.
      if (!nonNeg) return { op, at, a, b, lo: MIN, hi: MAX, narrow: false };
      return withRange(op, at, a, b, b.hi === 0n ? 0n : a.lo / b.hi, a.hi / (b.lo > 0n ? b.lo : 1n), both);
    case Op.MOD:
      if (!nonNeg) return { op, at, a, b, lo: MIN, hi: MAX, narrow: false };
      return withRange(op, at, a, b, 0n, b.hi > 0n ? minBig(a.hi, b.hi - 1n) : 0n, both);
    case Op.BAND:
    case Op.BOR:
    case Op.BXOR: {
      // JS bitwise operators work on 32 bits: both operands must fit as uint32 or both as int32.
      const asU32 = nonNeg && a.hi < U32 && b.hi < U32;
      const asI32 = a.lo >= -I32 && a.hi < I32 && b.lo >= -I32 && b.hi < I32;
      let lo = MIN;
      let hi = MAX;
      if (op === Op.BAND && (a.lo >= 0n || b.lo >= 0n)) {
        lo = 0n;
        hi = a.lo >= 0n && b.lo >= 0n ? minBig(a.hi, b.hi) : a.lo >= 0n ? a.hi : b.hi;
      } else if (nonNeg) {
        lo = 0n;
        hi = (1n << BigInt(bitLength(maxBig(a.hi, b.hi)))) - 1n;
      }
      return { op, at, a, b, lo, hi, narrow: both && (asU32 || asI32), u32: asU32 };
    }
  }
  throw new Refuse('BFDMUX_ERR_BAD_OPCODE', at, `unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
}

// Math.min and Math.max do not take bigints.
function minBig(x: bigint, y: bigint): bigint {
  return x < y ? x : y;
}

function maxBig(x: bigint, y: bigint): bigint {
  return x > y ? x : y;
}

function bitLength(x: bigint): number {
  return x <= 0n ? 0 : x.toString(2).length;
}
