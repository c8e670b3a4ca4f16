// Parse a filter expression. Precedence, lowest first (all binary operators are
// left-associative, so 5-2-1 is 2, where the original gave 4):
//
//   ||   &&   |   ^   &   == !=   >= <= }= {= > < } {   + -   * / %   ! ~ int8[..] int16[..] int32[..] int64[..]
//
// `}` `{` `}=` `{=` compare unsigned, `>` `<` `>=` `<=` signed. Literals: decimal,
// 0x hex, leading-0 octal, at most 2^64-1; there are no negative literals.

import type { BinaryOp, Expr, Span } from './ast.ts';
import { FilterError } from './errors.ts';

type Tok =
  | { t: 'num'; value: bigint; span: Span }
  | { t: 'load'; width: 1 | 2 | 4 | 8; span: Span }
  | { t: 'op'; op: string; span: Span }
  | { t: 'end'; span: Span };

const OPS = [
  '||',
  '&&',
  '==',
  '!=',
  '>=',
  '<=',
  '}=',
  '{=',
  '|',
  '^',
  '&',
  '>',
  '<',
  '}',
  '{',
  '+',
  '-',
  '*',
  '/',
  '%',
  '!',
  '~',
  '(',
  ')',
  '[',
  ']',
];
const LOADS: Record<string, 1 | 2 | 4 | 8> = { int8: 1, int16: 2, int32: 4, int64: 8 };
const MAX_U64 = (1n << 64n) - 1n;
const MAX_NESTING = 100;

function lex(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const fail = (start: number, end: number, why: string): never => {
    throw new FilterError('BFDMUX_ERR_SYNTAX', src, { start, end }, why);
  };
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c >= '0' && c <= '9') {
      const start = i;
      while (i < src.length && /[0-9a-zA-Z_]/.test(src[i]!)) i++;
      const text = src.slice(start, i);
      let value: bigint;
      if (/^0[xX][0-9a-fA-F]+$/.test(text)) value = BigInt(text);
      else if (/^0[0-7]+$/.test(text)) value = BigInt(`0o${text.slice(1)}`);
      else if (/^(0|[1-9][0-9]*)$/.test(text)) value = BigInt(text);
      else {
        const why = /^0[0-9]+$/.test(text)
          ? `bad octal number '${text}' (a leading 0 means octal: digits 0-7)`
          : /^0[xX]$/.test(text)
            ? `bad hex number '${text}': no digits after 0x`
            : `bad number '${text}'`;
        return fail(start, i, why);
      }
      if (value > MAX_U64) fail(start, i, `number ${text} does not fit 64 bits`);
      out.push({ t: 'num', value, span: { start, end: i } });
      continue;
    }
    if (/[a-zA-Z_]/.test(c)) {
      const start = i;
      while (i < src.length && /[0-9a-zA-Z_]/.test(src[i]!)) i++;
      const word = src.slice(start, i);
      const width = LOADS[word];
      if (!width) fail(start, i, `unknown word '${word}' (the loads are int8, int16, int32 and int64)`);
      out.push({ t: 'load', width: width!, span: { start, end: i } });
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (!op) fail(i, i + 1, `unexpected character '${c}'`);
    out.push({ t: 'op', op: op!, span: { start: i, end: i + op!.length } });
    i += op!.length;
  }
  out.push({ t: 'end', span: { start: src.length, end: src.length + 1 } });
  return out;
}

const LEVELS: readonly (readonly string[])[] = [
  ['||'],
  ['&&'],
  ['|'],
  ['^'],
  ['&'],
  ['==', '!='],
  ['>=', '<=', '}=', '{=', '>', '<', '}', '{'],
  ['+', '-'],
  ['*', '/', '%'],
];

/** Parse an expression; throws a FilterError (BFDMUX_ERR_SYNTAX) with the column of the problem. */
export function parseFilter(src: string): Expr {
  if (typeof src !== 'string') throw new TypeError('a filter expression is a string');
  const toks = lex(src);
  let pos = 0;
  let depth = 0;
  const peek = () => toks[pos]!;
  const fail = (span: Span, why: string): never => {
    throw new FilterError('BFDMUX_ERR_SYNTAX', src, span, why);
  };
  const describe = (t: Tok) =>
    t.t === 'end' ? 'the end of the expression' : `'${src.slice(t.span.start, t.span.end)}'`;

  const binary = (level: number): Expr => {
    if (level === LEVELS.length) return unary();
    let left = binary(level + 1);
    for (;;) {
      const t = peek();
      if (t.t !== 'op' || !LEVELS[level]!.includes(t.op)) return left;
      pos++;
      const right = operand(t, () => binary(level + 1));
      left = {
        k: 'binary',
        op: t.op as BinaryOp,
        left,
        right,
        span: { start: left.span.start, end: right.span.end },
      };
    }
  };

  // The operand after an operator, with a clear error when there is none.
  const operand = (after: Tok, parse: () => Expr): Expr => {
    const t = peek();
    if (t.t === 'end' || (t.t === 'op' && (t.op === ')' || t.op === ']'))) {
      fail(
        t.span,
        `expected an operand after '${src.slice(after.span.start, after.span.end)}', found ${describe(t)}`,
      );
    }
    if (t.t === 'op' && t.op === '-' && after.t === 'op') {
      fail(t.span, 'negative literals are not supported (values are 64-bit: write 0-1)');
    }
    return parse();
  };

  const unary = (): Expr => {
    const t = peek();
    if (++depth > MAX_NESTING) fail(t.span, `expression nested deeper than ${MAX_NESTING}`);
    try {
      if (t.t === 'num') {
        pos++;
        return { k: 'num', value: t.value, span: t.span };
      }
      if (t.t === 'load') {
        pos++;
        const open = peek();
        if (!(open.t === 'op' && open.op === '[')) {
          fail(
            open.span,
            `expected '[' after ${src.slice(t.span.start, t.span.end)}, found ${describe(open)}`,
          );
        }
        pos++;
        const offset = operand(open, () => binary(0));
        const close = peek();
        if (!(close.t === 'op' && close.op === ']'))
          fail(close.span, `expected ']' to close the load, found ${describe(close)}`);
        pos++;
        return { k: 'load', width: t.width, offset, span: { start: t.span.start, end: close.span.end } };
      }
      if (t.t === 'op' && (t.op === '!' || t.op === '~')) {
        pos++;
        const arg = operand(t, unary);
        return { k: 'unary', op: t.op, arg, span: { start: t.span.start, end: arg.span.end } };
      }
      if (t.t === 'op' && t.op === '(') {
        pos++;
        const inner = operand(t, () => binary(0));
        const close = peek();
        if (!(close.t === 'op' && close.op === ')')) {
          fail(
            close.span,
            `expected ')' to match the '(' at column ${t.span.start + 1}, found ${describe(close)}`,
          );
        }
        pos++;
        return { ...inner, span: { start: t.span.start, end: close.span.end } };
      }
      if (t.t === 'op' && t.op === '-')
        return fail(t.span, 'negative literals are not supported (values are 64-bit: write 0-1)');
      return fail(
        t.span,
        t.t === 'end' ? 'empty expression' : `expected a number, a load or '(', found ${describe(t)}`,
      );
    } finally {
      depth--;
    }
  };

  const e = binary(0);
  const rest = peek();
  if (rest.t !== 'end') {
    fail(
      rest.span,
      rest.t === 'op' && rest.op === ')'
        ? "unmatched ')'"
        : `unexpected ${describe(rest)} after the expression`,
    );
  }
  return e;
}
