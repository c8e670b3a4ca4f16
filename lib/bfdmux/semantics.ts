// The meaning of every operator on 64-bit values, used by the optimiser (constant
// folding), the wide VM and the reference tests. Values are uint64 bit patterns as
// bigint in 0..2^64-1; signed operators read them as two's complement.

export const U64 = (1n << 64n) - 1n;
const u = (x: bigint) => BigInt.asUintN(64, x);
const s = (x: bigint) => BigInt.asIntN(64, x);
const b = (x: boolean) => (x ? 1n : 0n);

/** undefined: division by zero. */
export function binary(op: string, l: bigint, r: bigint): bigint | undefined {
  switch (op) {
    case '+':
      return u(l + r);
    case '-':
      return u(l - r);
    case '*':
      return u(l * r);
    case '/':
      return r === 0n ? undefined : l / r;
    case '%':
      return r === 0n ? undefined : l % r;
    case '==':
      return b(l === r);
    case '!=':
      return b(l !== r);
    case '>':
      return b(s(l) > s(r));
    case '<':
      return b(s(l) < s(r));
    case '>=':
      return b(s(l) >= s(r));
    case '<=':
      return b(s(l) <= s(r));
    case '}':
      return b(l > r);
    case '{':
      return b(l < r);
    case '}=':
      return b(l >= r);
    case '{=':
      return b(l <= r);
    case '&':
      return l & r;
    case '|':
      return l | r;
    case '^':
      return l ^ r;
    case '&&':
      return b(l !== 0n && r !== 0n);
    case '||':
      return b(l !== 0n || r !== 0n);
  }
  throw new Error(`internal: no operator '${op}'`);
}

export function unary(op: string, x: bigint): bigint {
  return op === '!' ? b(x === 0n) : u(~x);
}
