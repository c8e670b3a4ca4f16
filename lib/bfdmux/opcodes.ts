// The bfdmux bytecode: the original opcodes, one byte each, in prefix order
// ([op][left][right]). Immediates are little-endian, as in the original. && and ||
// carry a 4-byte little-endian count of the bytes of both their operands, so that
// evaluation can skip the right one.
//
// Extensions over the original: code may be up to MAX_CODE bytes (it was 256), and
// BNOT is implemented.

export const Op = {
  EQUAL: 0x11,
  SGREATER: 0x12,
  SLESS: 0x13,
  UGREATER: 0x14,
  ULESS: 0x15,
  UNEQUAL: 0x21,
  SGREATEREQUAL: 0x22,
  SLESSEQUAL: 0x23,
  UGREATEREQUAL: 0x24,
  ULESSEQUAL: 0x25,
  ADD: 0x31,
  SUB: 0x32,
  MULT: 0x33,
  IDIV: 0x34,
  MOD: 0x35,
  NOT: 0x41,
  AND: 0x42,
  OR: 0x43,
  BNOT: 0x51,
  BAND: 0x52,
  BOR: 0x53,
  BXOR: 0x54,
  INT8: 0x61,
  INT16: 0x62,
  INT32: 0x63,
  INT64: 0x64,
  LOAD8: 0x71,
  LOAD16: 0x72,
  LOAD32: 0x73,
  LOAD64: 0x74,
} as const;

export type OpCode = (typeof Op)[keyof typeof Op];

export const MAX_CODE = 4096;
/** Deepest nesting the verifier accepts (the decoder recurses this deep at most). */
export const MAX_DEPTH = 200;

export const OP_NAME: Record<number, string> = Object.fromEntries(Object.entries(Op).map(([k, v]) => [v, k]));

/** The operator each binary opcode stands for in the language. */
export const BINARY_SYMBOL: Record<number, string> = {
  [Op.EQUAL]: '==',
  [Op.UNEQUAL]: '!=',
  [Op.SGREATER]: '>',
  [Op.SLESS]: '<',
  [Op.UGREATER]: '}',
  [Op.ULESS]: '{',
  [Op.SGREATEREQUAL]: '>=',
  [Op.SLESSEQUAL]: '<=',
  [Op.UGREATEREQUAL]: '}=',
  [Op.ULESSEQUAL]: '{=',
  [Op.ADD]: '+',
  [Op.SUB]: '-',
  [Op.MULT]: '*',
  [Op.IDIV]: '/',
  [Op.MOD]: '%',
  [Op.AND]: '&&',
  [Op.OR]: '||',
  [Op.BAND]: '&',
  [Op.BOR]: '|',
  [Op.BXOR]: '^',
};

export const SYMBOL_OP: Record<string, number> = Object.fromEntries(
  Object.entries(BINARY_SYMBOL).map(([op, sym]) => [sym, Number(op)]),
);

export const LOAD_WIDTH: Record<number, 1 | 2 | 4 | 8> = {
  [Op.LOAD8]: 1,
  [Op.LOAD16]: 2,
  [Op.LOAD32]: 4,
  [Op.LOAD64]: 8,
};
export const IMM_WIDTH: Record<number, 1 | 2 | 4 | 8> = {
  [Op.INT8]: 1,
  [Op.INT16]: 2,
  [Op.INT32]: 4,
  [Op.INT64]: 8,
};
