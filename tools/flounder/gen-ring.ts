// The shared-memory back end: code that writes a message into a ring slot and reads
// it back out. Only messages whose arguments are all fixed-size scalars come here.
// Values are validated on both sides: the sender's against its declared types, and
// the receiver's again, because the peer's memory is not to be trusted.

import type { ArgModel, TypeRef } from './model.ts';

/** Statements that store `v` at word `__w[__at + off]` (and the next word for 64-bit values). */
export function ringStore(t: TypeRef, v: string, off: number): string {
  const i = `__at + ${off}`;
  switch (t.kind) {
    case 'int':
      if (t.bits === 64)
        return `__w[${i}] = Number(BigInt.asIntN(32, ${v})); __w[${i} + 1] = Number(BigInt.asIntN(32, ${v} >> 32n));`;
      return `__w[${i}] = ${v};`;
    case 'size':
      return `__w[${i}] = ${v} >>> 0; __w[${i} + 1] = Math.floor(${v} / 4294967296);`;
    case 'bool':
      return `__w[${i}] = ${v} ? 1 : 0;`;
    default:
      return `__w[${i}] = ${v};`;
  }
}

/**
 * Statements that read a value of `t` from the slot into `const name`, and leave
 * through `bad` when the word does not hold a valid value.
 */
export function ringLoad(t: TypeRef, name: string, off: number, bad: string): string {
  const i = `__at + ${off}`;
  switch (t.kind) {
    case 'int': {
      if (t.bits === 64) {
        const hi = t.signed ? `BigInt(__w[${i} + 1]!)` : `BigInt(__w[${i} + 1]! >>> 0)`;
        return `const ${name} = (${hi} << 32n) | BigInt(__w[${i}]! >>> 0);`;
      }
      if (t.bits === 32) return `const ${name} = __w[${i}]!${t.signed ? '' : ' >>> 0'};`;
      // One read of the shared word: the value checked is the value used.
      const check = t.signed
        ? `((${name} << ${32 - t.bits}) >> ${32 - t.bits}) !== ${name}`
        : `(${name} & 0x${((1 << t.bits) - 1).toString(16)}) !== ${name}`;
      return `const ${name} = __w[${i}]!;\nif (${check}) ${bad}`;
    }
    case 'size':
      return `const ${name} = (__w[${i} + 1]! >>> 0) * 4294967296 + (__w[${i}]! >>> 0);\n if (${name} > Number.MAX_SAFE_INTEGER) ${bad}`;
    case 'bool':
      return `const ${name}__raw = __w[${i}]!;\nif ((${name}__raw & ~1) !== 0) ${bad}\nconst ${name} = ${name}__raw === 1;`;
    case 'enum':
      return `const ${name} = __w[${i}]! >>> 0;\n if (${name} >= ${t.members.length}) ${bad}`;
    case 'errval':
    case 'iref':
      return `const ${name} = __w[${i}]! >>> 0;`;
    default:
      throw new Error(`internal: ${t.kind} cannot travel on a ring`);
  }
}

/** Load every argument of a message part; names are the argument names prefixed with `p_`. */
export function ringLoadAll(args: readonly ArgModel[], offsets: readonly number[], bad: string): string {
  return args.map((a, k) => ringLoad(a.type, `p_${a.name}`, offsets[k]!, bad)).join('\n');
}
