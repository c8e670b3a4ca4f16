// The checked form of an interface: every name resolved, every message numbered,
// and for each message what it costs on the shared-memory ring. The generators
// read only this.

export type TypeRef =
  | {
      readonly kind: 'int';
      readonly bits: 8 | 16 | 32 | 64;
      readonly signed: boolean;
      readonly display: string;
    }
  /** size: 64 bits on the wire, a JS number (at most 2^53 - 1) in TypeScript */
  | { readonly kind: 'size'; readonly display: string }
  | { readonly kind: 'bool'; readonly display: string }
  | {
      readonly kind: 'enum';
      readonly name: string;
      readonly members: readonly string[];
      readonly display: string;
    }
  | { readonly kind: 'errval'; readonly display: string }
  | { readonly kind: 'string'; readonly display: string }
  | { readonly kind: 'cap'; readonly giveAway: boolean; readonly display: string }
  | { readonly kind: 'iref'; readonly display: string }
  | {
      readonly kind: 'struct';
      readonly name: string;
      readonly fields: readonly { name: string; type: TypeRef }[];
      readonly display: string;
    }
  | { readonly kind: 'array'; readonly element: TypeRef; readonly length: number; readonly display: string }
  | { readonly kind: 'dynarray'; readonly element: TypeRef; readonly display: string };

export interface ArgModel {
  readonly name: string;
  readonly type: TypeRef;
  /** For a dynamic array, the implicit length argument's name. */
  readonly lengthName?: string;
}

/** Who may send a message: c2s (client to server), s2c, or both. */
export type Direction = 'c2s' | 's2c' | 'both';

export interface RingLayout {
  /** Words per slot this part needs, header included. */
  readonly words: number;
  /** Word offset of each argument in the slot. */
  readonly offsets: readonly number[];
}

export interface MessageModel {
  readonly index: number;
  readonly name: string;
  readonly kind: 'message' | 'rpc';
  readonly direction: Direction;
  /** For a message: its arguments. For an rpc: the in-arguments. */
  readonly args: readonly ArgModel[];
  /** For an rpc: the out-arguments, without the status. */
  readonly outs: readonly ArgModel[];
  /** For an rpc: the name of the out errval that is the call's status, if it declares one. */
  readonly statusName?: string;
  /** Set when the (in-)arguments can travel on a ring. */
  readonly ring?: RingLayout;
  /** For an rpc: set when the reply can travel on a ring. */
  readonly replyRing?: RingLayout;
}

export interface TypeDeclModel {
  readonly name: string; // as written
  readonly tsName: string;
  readonly type: TypeRef;
}

export interface InterfaceModel {
  readonly name: string;
  readonly description?: string;
  readonly types: readonly TypeDeclModel[];
  readonly messages: readonly MessageModel[];
  /** The largest ring slot any part of any message needs (0: nothing can use a ring). */
  readonly slotWords: number;
  /** Identifies the interface's wire contract; client and server must agree. */
  readonly hash: string;
}

/** Message codes on the wire: index * 4 + part. */
export const PART_MESSAGE = 0;
export const PART_CALL = 1;
export const PART_REPLY = 2;

/** Slot header: word 0 = message code, word 1 = ordering tag, word 2 = rpc call id (rpc parts only), word 3 = status (replies). */
export const RING_HEADER_WORDS = 2;

export function isRingScalar(t: TypeRef): boolean {
  return (
    t.kind === 'int' || t.kind === 'size' || t.kind === 'bool' || t.kind === 'enum' || t.kind === 'errval'
  );
}

export function ringWords(t: TypeRef): number {
  return (t.kind === 'int' && t.bits === 64) || t.kind === 'size' ? 2 : 1;
}
