// The JIT: a verified program becomes a JavaScript function (packet, length) ->
// verdict, with the same verdicts as the VM. The source is generated from the
// verified tree only (numbers and operators the verifier accepted), never from the
// text of a filter expression.
//
// Narrow programs compute on numbers: one local per node, loads at constant offsets
// checked against the length right where they happen (a load that is not reached by
// the short circuit must not fail the filter), && and || as nested ifs. Wide
// programs compute on bigint with the same structure.

import { Err } from '../../protocols/errors.ts';
import { Op } from './opcodes.ts';
import type { PNode, Program } from './verify.ts';

export type FilterFn = (packet: Uint8Array, length: number) => number;

const LOAD_ERROR = -Err.BFDMUX_ERR_LOAD_OUT_OF_BOUNDS;
const DIV_ERROR = -Err.BFDMUX_ERR_DIV_BY_ZERO;

export function jitSource(program: Program): string {
  return program.narrow ? narrowSource(program.root) : wideSource(program.root);
}

export function jitFilter(program: Program): FilterFn {
  // Callers may pass a length past the buffer (or none); the VM clamps, so does this.
  const body = `if (n === undefined || n > p.length) n = p.length;\n${jitSource(program)}`;
  return new Function('p', 'n', body) as FilterFn;
}

function narrowSource(root: PNode): string {
  const lines: string[] = [];
  let vars = 0;
  let indent = '  ';
  const out = (s: string) => lines.push(indent + s);
  const fresh = () => `v${vars++}`;
  const loadExpr = (w: number, o: string): string =>
    w === 1
      ? `p[${o}]`
      : w === 2
        ? `((p[${o}] << 8) | p[${o} + 1])`
        : `(((p[${o}] << 24) | (p[${o} + 1] << 16) | (p[${o} + 2] << 8) | p[${o} + 3]) >>> 0)`;

  /** Emit statements computing `n`; return an expression (a literal or a local) for its value. */
  const gen = (n: PNode): string => {
    if (n.value !== undefined) return `(${Number(n.value)})`;
    const x = fresh();
    if (n.width !== undefined) {
      const a = n.a!;
      if (a.value !== undefined && a.value >= 0n && a.value < 0x7fff_ffffn) {
        const off = Number(a.value);
        out(`if (n < ${off + n.width}) return ${LOAD_ERROR};`);
        out(`${x} = ${loadExpr(n.width, String(off))};`);
      } else {
        const o = gen(a);
        out(`if (!(${o} >= 0 && ${o} + ${n.width} <= n)) return ${LOAD_ERROR};`);
        out(`${x} = ${loadExpr(n.width, o)};`);
      }
      return x;
    }
    switch (n.op) {
      case Op.NOT:
        out(`${x} = ${gen(n.a!)} === 0 ? 1 : 0;`);
        return x;
      case Op.BNOT:
        out(`${x} = -${gen(n.a!)} - 1;`);
        return x;
      case Op.AND:
      case Op.OR: {
        const a = gen(n.a!);
        out(`${x} = ${n.op === Op.AND ? 0 : 1};`);
        out(`if (${a} ${n.op === Op.AND ? '!==' : '==='} 0) {`);
        const saved = indent;
        indent += '  ';
        const b = gen(n.b!);
        out(`${x} = ${b} !== 0 ? 1 : 0;`);
        indent = saved;
        out('}');
        return x;
      }
    }
    const a = gen(n.a!);
    const b = gen(n.b!);
    switch (n.op) {
      case Op.ADD:
        out(`${x} = ${a} + ${b};`);
        break;
      case Op.SUB:
        out(`${x} = ${a} - ${b};`);
        break;
      case Op.MULT:
        out(`${x} = ${a} * ${b};`);
        break;
      case Op.IDIV:
        out(`if (${b} === 0) return ${DIV_ERROR};`);
        out(`${x} = (${a} - (${a} % ${b})) / ${b};`);
        break;
      case Op.MOD:
        out(`if (${b} === 0) return ${DIV_ERROR};`);
        out(`${x} = ${a} % ${b};`);
        break;
      case Op.EQUAL:
        out(`${x} = ${a} === ${b} ? 1 : 0;`);
        break;
      case Op.UNEQUAL:
        out(`${x} = ${a} !== ${b} ? 1 : 0;`);
        break;
      case Op.SGREATER:
        out(`${x} = ${a} > ${b} ? 1 : 0;`);
        break;
      case Op.SLESS:
        out(`${x} = ${a} < ${b} ? 1 : 0;`);
        break;
      case Op.SGREATEREQUAL:
        out(`${x} = ${a} >= ${b} ? 1 : 0;`);
        break;
      case Op.SLESSEQUAL:
        out(`${x} = ${a} <= ${b} ? 1 : 0;`);
        break;
      // Unsigned comparison of two's-complement values: a negative one is the larger.
      case Op.UGREATER:
        out(`${x} = (${a} < 0 === ${b} < 0 ? ${a} > ${b} : ${a} < 0) ? 1 : 0;`);
        break;
      case Op.ULESS:
        out(`${x} = (${a} < 0 === ${b} < 0 ? ${a} < ${b} : ${b} < 0) ? 1 : 0;`);
        break;
      case Op.UGREATEREQUAL:
        out(`${x} = (${a} < 0 === ${b} < 0 ? ${a} >= ${b} : ${a} < 0) ? 1 : 0;`);
        break;
      case Op.ULESSEQUAL:
        out(`${x} = (${a} < 0 === ${b} < 0 ? ${a} <= ${b} : ${b} < 0) ? 1 : 0;`);
        break;
      case Op.BAND:
      case Op.BOR:
      case Op.BXOR: {
        const sym = n.op === Op.BAND ? '&' : n.op === Op.BOR ? '|' : '^';
        out(n.u32 ? `${x} = (${a} ${sym} ${b}) >>> 0;` : `${x} = ${a} ${sym} ${b};`);
        break;
      }
      default:
        throw new Error(`internal: opcode 0x${n.op.toString(16)} in a verified program`);
    }
    return x;
  };
  let r: string;
  if (root.op === Op.AND) {
    // The top-level && chain: the first operand that is 0 decides, at once.
    const terms: PNode[] = [];
    const walk = (x: PNode): void => {
      if (x.op === Op.AND) {
        walk(x.a!);
        walk(x.b!);
      } else terms.push(x);
    };
    walk(root);
    for (const t of terms.slice(0, -1)) {
      // `load at a constant offset (masked or not) == constant`: compare and leave, no temporaries.
      const atom = rootAtom(t);
      if (atom) {
        out(`if (n < ${atom.offset + atom.width}) return ${LOAD_ERROR};`);
        // Equality does not care about signedness: compare as int32, which stays a small integer.
        const o = atom.offset;
        const read =
          atom.width === 1
            ? `p[${o}]`
            : atom.width === 2
              ? `((p[${o}] << 8) | p[${o + 1}])`
              : `((p[${o}] << 24) | (p[${o + 1}] << 16) | (p[${o + 2}] << 8) | p[${o + 3}])`;
        const value = atom.mask === undefined ? read : `(${read} & ${atom.mask | 0})`;
        out(`if (${value} !== ${atom.value | 0}) return 0;`);
      } else out(`if (${gen(t)} === 0) return 0;`);
    }
    r = gen(terms[terms.length - 1]!);
  } else r = gen(root);
  const decl = vars ? `  let ${Array.from({ length: vars }, (_, i) => `v${i} = 0`).join(', ')};\n` : '';
  return `${decl}${lines.join('\n')}\n  return ${r} !== 0 ? 1 : 0;`;
}

/** `int16[12] == 0x800`, `(int16[20] & 0x1fff) == 0`: what it reads and compares, if `n` is such an atom. */
function rootAtom(n: PNode): { offset: number; width: number; mask?: number; value: number } | undefined {
  if (n.op !== Op.EQUAL || !n.narrow) return undefined;
  const [x, c] = n.b!.value !== undefined ? [n.a!, n.b!] : n.a!.value !== undefined ? [n.b!, n.a!] : [];
  if (!x || !c) return undefined;
  let load = x;
  let mask: number | undefined;
  if (x.op === Op.BAND && x.u32) {
    const [l, m] = x.b!.value !== undefined ? [x.a!, x.b!] : x.a!.value !== undefined ? [x.b!, x.a!] : [];
    if (!l || !m) return undefined;
    load = l;
    mask = Number(m.value!);
  }
  const off = load.a?.value;
  if (load.width === undefined || load.width === 8 || off === undefined || off < 0n || off >= 0x7fff_ffffn)
    return undefined;
  return { offset: Number(off), width: load.width, mask, value: Number(c.value!) };
}

function wideSource(root: PNode): string {
  const lines: string[] = [];
  let vars = 0;
  let indent = '  ';
  const out = (s: string) => lines.push(indent + s);
  const fresh = () => `v${vars++}`;
  const U = (e: string) => `BigInt.asUintN(64, ${e})`;
  const S = (e: string) => `BigInt.asIntN(64, ${e})`;
  const gen = (n: PNode): string => {
    if (n.value !== undefined) return `${BigInt.asUintN(64, n.value)}n`;
    const x = fresh();
    if (n.width !== undefined) {
      const o = gen(n.a!);
      out(`if (${o} + ${n.width}n > BigInt(n)) return ${LOAD_ERROR};`);
      out(
        `{ const o = Number(${o}); ${x} = 0n; for (let i = 0; i < ${n.width}; i++) ${x} = (${x} << 8n) | BigInt(p[o + i]); }`,
      );
      return x;
    }
    switch (n.op) {
      case Op.NOT:
        out(`${x} = ${gen(n.a!)} === 0n ? 1n : 0n;`);
        return x;
      case Op.BNOT:
        out(`${x} = ${U(`~${gen(n.a!)}`)};`);
        return x;
      case Op.AND:
      case Op.OR: {
        const a = gen(n.a!);
        out(`${x} = ${n.op === Op.AND ? '0n' : '1n'};`);
        out(`if (${a} ${n.op === Op.AND ? '!==' : '==='} 0n) {`);
        const saved = indent;
        indent += '  ';
        const b = gen(n.b!);
        out(`${x} = ${b} !== 0n ? 1n : 0n;`);
        indent = saved;
        out('}');
        return x;
      }
    }
    const a = gen(n.a!);
    const b = gen(n.b!);
    const cmp = (sym: string, signed: boolean) =>
      out(`${x} = ${signed ? S(a) : a} ${sym} ${signed ? S(b) : b} ? 1n : 0n;`);
    switch (n.op) {
      case Op.ADD:
        out(`${x} = ${U(`${a} + ${b}`)};`);
        break;
      case Op.SUB:
        out(`${x} = ${U(`${a} - ${b}`)};`);
        break;
      case Op.MULT:
        out(`${x} = ${U(`${a} * ${b}`)};`);
        break;
      case Op.IDIV:
        out(`if (${b} === 0n) return ${DIV_ERROR};`);
        out(`${x} = ${a} / ${b};`);
        break;
      case Op.MOD:
        out(`if (${b} === 0n) return ${DIV_ERROR};`);
        out(`${x} = ${a} % ${b};`);
        break;
      case Op.EQUAL:
        cmp('===', false);
        break;
      case Op.UNEQUAL:
        cmp('!==', false);
        break;
      case Op.SGREATER:
        cmp('>', true);
        break;
      case Op.SLESS:
        cmp('<', true);
        break;
      case Op.SGREATEREQUAL:
        cmp('>=', true);
        break;
      case Op.SLESSEQUAL:
        cmp('<=', true);
        break;
      case Op.UGREATER:
        cmp('>', false);
        break;
      case Op.ULESS:
        cmp('<', false);
        break;
      case Op.UGREATEREQUAL:
        cmp('>=', false);
        break;
      case Op.ULESSEQUAL:
        cmp('<=', false);
        break;
      case Op.BAND:
        out(`${x} = ${a} & ${b};`);
        break;
      case Op.BOR:
        out(`${x} = ${a} | ${b};`);
        break;
      case Op.BXOR:
        out(`${x} = ${a} ^ ${b};`);
        break;
      default:
        throw new Error(`internal: opcode 0x${n.op.toString(16)} in a verified program`);
    }
    return x;
  };
  const r = gen(root);
  const decl = vars ? `  let ${Array.from({ length: vars }, (_, i) => `v${i} = 0n`).join(', ')};\n` : '';
  return `${decl}${lines.join('\n')}\n  return ${r} !== 0n ? 1 : 0;`;
}

/**
 * A narrow expression's value as a function of the packet, or -1 when a load in it
 * fails (for computed offsets in the demux index, where only values >= 0 are offsets).
 */
export function jitValue(node: PNode): (packet: Uint8Array, length: number) => number {
  if (!node.narrow) throw new Error('internal: jitValue needs a narrow expression');
  const src = narrowSource({ op: Op.ADD, at: 0, a: node, b: zero, lo: node.lo, hi: node.hi, narrow: true })
    .replace(/return -\d+;/g, 'return -1;')
    .replace(/\n {2}return (\S+) !== 0 \? 1 : 0;$/, '\n  return $1;');
  return new Function('p', 'n', src) as (packet: Uint8Array, length: number) => number;
}

const zero: PNode = { op: Op.INT8, at: 0, value: 0n, lo: 0n, hi: 0n, narrow: true };
