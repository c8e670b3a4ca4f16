// The interpreter of narrow programs: the flat instruction array over a Float64Array
// stack, the top of the stack in a local. No allocation per packet.

import { Err } from '../../protocols/errors.ts';
import { DIV_ERROR, LOAD_ERROR, MATCH, NO_MATCH, type Verdict } from './verdicts.ts';
import { I } from './vm-isa.ts';

const MAX_STACK = 512;
const stack = new Float64Array(MAX_STACK);

export function runNarrow(ins: Int32Array, consts: Float64Array, p: Uint8Array, n: number): Verdict {
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
