// The syntax tree of a Flounder interface file, as written (names unresolved).

import type { Span } from './source.ts';

export interface Name extends Span {
  readonly text: string;
}

export interface InterfaceAst {
  readonly name: Name;
  readonly description?: string;
  readonly types: readonly TypeDecl[];
  readonly messages: readonly MessageDecl[];
  readonly span: Span;
}

export type TypeDecl =
  | {
      readonly kind: 'alias';
      readonly name: Name;
      readonly target: Name;
      readonly keyword: 'alias' | 'typedef';
    }
  | { readonly kind: 'struct'; readonly name: Name; readonly fields: readonly Field[] }
  | { readonly kind: 'enum'; readonly name: Name; readonly members: readonly Name[] }
  | {
      readonly kind: 'array';
      readonly name: Name;
      readonly element: Name;
      readonly length: number;
      readonly lengthSpan: Span;
    };

export interface Field {
  readonly type: Name;
  readonly name: Name;
}

/** message (either direction), call (client to server), response (server to client), rpc. */
export type MessageKind = 'message' | 'call' | 'response' | 'rpc';

export interface MessageDecl {
  readonly kind: MessageKind;
  readonly name: Name;
  readonly args: readonly Arg[];
  readonly span: Span;
}

export interface Arg {
  /** Only in rpc: the direction. */
  readonly direction?: 'in' | 'out';
  readonly type: Name;
  readonly name: Name;
  /** `uint8 buf[len]`: a dynamic array whose length travels as the implicit argument `len`. */
  readonly lengthName?: Name;
}
