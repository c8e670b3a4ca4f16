// The filter language's syntax tree. Values are 64-bit; literals are kept as bigint.

export interface Span {
  /** 0-based offsets into the expression text. */
  readonly start: number;
  readonly end: number;
}

export type Expr =
  | { readonly k: 'num'; readonly value: bigint; readonly span: Span }
  | { readonly k: 'load'; readonly width: 1 | 2 | 4 | 8; readonly offset: Expr; readonly span: Span }
  | { readonly k: 'unary'; readonly op: '!' | '~'; readonly arg: Expr; readonly span: Span }
  | {
      readonly k: 'binary';
      readonly op: BinaryOp;
      readonly left: Expr;
      readonly right: Expr;
      readonly span: Span;
    };

export type BinaryOp =
  | '||'
  | '&&'
  | '|'
  | '^'
  | '&'
  | '=='
  | '!='
  | '>='
  | '<='
  | '}='
  | '{='
  | '>'
  | '<'
  | '}'
  | '{'
  | '+'
  | '-'
  | '*'
  | '/'
  | '%';
