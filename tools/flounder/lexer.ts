// Tokens of Flounder interface files and of the error registry (errno.fugu style).
// The lexer never throws: bad characters and unterminated comments or strings
// become diagnostics and lexing goes on.

import type { Diagnostic, SourceFile, Span } from './source.ts';

export type TokenKind = 'ident' | 'number' | 'string' | 'punct' | 'eof';

export interface Token extends Span {
  readonly kind: TokenKind;
  /** identifier name, punctuation character, decoded string, or number text */
  readonly text: string;
  readonly value?: number;
}

const PUNCT = new Set(['{', '}', '(', ')', '[', ']', ';', ',', '=', '.', ':', '*', '<', '>']);

export function lex(file: SourceFile, diagnostics: Diagnostic[]): Token[] {
  const src = file.text;
  const tokens: Token[] = [];
  const n = src.length;
  let i = 0;
  const error = (start: number, end: number, message: string) =>
    diagnostics.push({ file, span: { start, end: Math.max(end, start + 1) }, message });

  while (i < n) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\f' || c === '\v') {
      i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '/') {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const close = src.indexOf('*/', i + 2);
      if (close < 0) {
        error(i, i + 2, 'unterminated comment: /* has no matching */');
        i = n;
      } else i = close + 2;
      continue;
    }
    if (isIdentStart(c)) {
      const start = i;
      while (i < n && isIdentPart(src[i]!)) i++;
      tokens.push({ kind: 'ident', text: src.slice(start, i), start, end: i });
      continue;
    }
    if (c >= '0' && c <= '9') {
      const start = i;
      while (i < n && isIdentPart(src[i]!)) i++;
      const text = src.slice(start, i);
      const value = parseNumber(text);
      if (value === undefined) error(start, i, `bad number '${text}'`);
      tokens.push({ kind: 'number', text, value: value ?? 0, start, end: i });
      continue;
    }
    if (c === '"') {
      const start = i++;
      let text = '';
      let closed = false;
      while (i < n) {
        const d = src[i]!;
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\n') break;
        if (d === '\\' && i + 1 < n && src[i + 1] !== '\n') {
          const e = src[i + 1]!;
          text += e === 'n' ? '\n' : e === 't' ? '\t' : e;
          i += 2;
          continue;
        }
        text += d;
        i++;
      }
      if (!closed) error(start, i, 'unterminated string: missing closing "');
      tokens.push({ kind: 'string', text, start, end: i });
      continue;
    }
    if (PUNCT.has(c)) {
      tokens.push({ kind: 'punct', text: c, start: i, end: i + 1 });
      i++;
      continue;
    }
    const cp = src.codePointAt(i)!;
    const len = cp > 0xffff ? 2 : 1;
    error(i, i + len, `unexpected character '${String.fromCodePoint(cp)}'`);
    i += len;
  }
  tokens.push({ kind: 'eof', text: '', start: n, end: n });
  return tokens;
}

function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
}

function isIdentPart(c: string): boolean {
  return isIdentStart(c) || (c >= '0' && c <= '9');
}

/** Decimal, 0x hex, or leading-0 octal; undefined when malformed or unsafe. */
export function parseNumber(text: string): number | undefined {
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(text)) v = Number.parseInt(text.slice(2), 16);
  else if (/^0[0-7]+$/.test(text)) v = Number.parseInt(text.slice(1), 8);
  else if (/^(0|[1-9][0-9]*)$/.test(text)) v = Number(text);
  else return undefined;
  return Number.isSafeInteger(v) ? v : undefined;
}
