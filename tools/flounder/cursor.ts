// A cursor over tokens for the recursive-descent parsers. A syntax error records a
// diagnostic and unwinds with SyntaxStop, which the parser's entry point catches:
// parsing stops at the first syntax error, semantic checks report all they find.

import type { Token } from './lexer.ts';
import type { Diagnostic, SourceFile, Span } from './source.ts';

export class SyntaxStop {}

export class Cursor {
  private i = 0;

  constructor(
    readonly file: SourceFile,
    private readonly tokens: Token[],
    readonly diagnostics: Diagnostic[],
  ) {}

  peek(ahead = 0): Token {
    return this.tokens[Math.min(this.i + ahead, this.tokens.length - 1)]!;
  }

  next(): Token {
    const t = this.peek();
    if (this.i < this.tokens.length - 1) this.i++;
    return t;
  }

  previous(): Token {
    return this.tokens[Math.max(0, this.i - 1)]!;
  }

  isPunct(p: string): boolean {
    const t = this.peek();
    return t.kind === 'punct' && t.text === p;
  }

  isWord(w: string): boolean {
    const t = this.peek();
    return t.kind === 'ident' && t.text === w;
  }

  eat(p: string): boolean {
    if (!this.isPunct(p)) return false;
    this.next();
    return true;
  }

  /** Expect punctuation; `what` completes "expected ... " in the message. */
  expect(p: string, what = `'${p}'`): Token {
    if (this.isPunct(p)) return this.next();
    if (p === ';') {
      // A missing semicolon is best reported right after the previous token.
      const prev = this.previous();
      this.fail({ start: prev.end, end: prev.end + 1 }, `missing ';' after ${describe(prev)}`);
    }
    return this.fail(this.peek(), `expected ${what}, found ${describe(this.peek())}`);
  }

  expectIdent(what: string): Token {
    const t = this.peek();
    if (t.kind === 'ident') return this.next();
    return this.fail(t, `expected ${what}, found ${describe(t)}`);
  }

  expectWord(w: string): Token {
    if (this.isWord(w)) return this.next();
    return this.fail(this.peek(), `expected '${w}', found ${describe(this.peek())}`);
  }

  fail(span: Span, message: string): never {
    this.diagnostics.push({ file: this.file, span: widen(span, this.file.text.length), message });
    throw new SyntaxStop();
  }

  error(span: Span, message: string, notes?: { span: Span; message: string }[]): void {
    this.diagnostics.push({ file: this.file, span: widen(span, this.file.text.length), message, notes });
  }
}

export function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of file';
    case 'string':
      return 'a string';
    case 'number':
      return `number ${t.text}`;
    case 'punct':
      return `'${t.text}'`;
    default:
      return `'${t.text}'`;
  }
}

function widen(span: Span, length: number): Span {
  // End-of-file spans are empty; give the caret one column to stand on.
  return span.end > span.start ? span : { start: Math.min(span.start, length), end: span.start + 1 };
}
