// Per-type code fragments shared by the back ends: the TypeScript type of a value,
// the test that a value fits its declared type, and its metadata for tools.

import type { TypeRef } from './model.ts';

/** The TypeScript type of a value of `t`, as it appears in signatures. */
export function tsType(t: TypeRef): string {
  return t.display;
}

/** The TypeScript type a typedef stands for (its right-hand side). */
export function tsDefinition(t: TypeRef): string {
  switch (t.kind) {
    case 'int':
      return t.bits === 64 ? 'bigint' : 'number';
    case 'size':
    case 'iref':
      return 'number';
    case 'bool':
      return 'boolean';
    case 'errval':
      return 'ErrCode';
    case 'string':
      return 'string';
    case 'cap':
      return 'Capability';
    case 'enum':
      return `(typeof ${t.display})[keyof typeof ${t.display}]`;
    case 'struct':
      return `{ ${t.fields.map((f) => `readonly ${f.name}: ${tsType(f.type)}`).join('; ')} }`;
    case 'array':
      return fixedArrayType(t.element);
    case 'dynarray':
      return t.display;
  }
}

function fixedArrayType(el: TypeRef): string {
  if (el.kind === 'int' && el.bits === 8) return 'Uint8Array';
  return `readonly ${tsType(el)}[]`;
}

/** A boolean expression that is true when `v` (an expression without side effects) fits `t`. */
export function fits(t: TypeRef, v: string): string {
  switch (t.kind) {
    case 'int':
      if (t.bits === 64)
        return `(typeof ${v} === 'bigint' && BigInt.as${t.signed ? 'Int' : 'Uint'}N(64, ${v}) === ${v})`;
      if (t.signed)
        return t.bits === 32
          ? `((${v} | 0) === ${v})`
          : `(((${v} << ${32 - t.bits}) >> ${32 - t.bits}) === ${v})`;
      return t.bits === 32
        ? `((${v} >>> 0) === ${v})`
        : `((${v} & 0x${((1 << t.bits) - 1).toString(16)}) === ${v})`;
    case 'size':
      return `(Number.isSafeInteger(${v}) && ${v} >= 0)`;
    case 'iref':
    case 'errval':
      return `((${v} >>> 0) === ${v})`;
    case 'bool':
      return `(typeof ${v} === 'boolean')`;
    case 'enum':
      return `((${v} >>> 0) === ${v} && ${v} < ${t.members.length})`;
    case 'string':
      return `(typeof ${v} === 'string')`;
    case 'cap':
      return `isCapability(${v})`;
    case 'struct':
    case 'array':
      return `fits${t.display}(${v})`;
    case 'dynarray':
      return `(${v} instanceof ${t.display})`;
  }
}

/** A checker function for a named struct or fixed array type. */
export function fitsFunction(name: string, t: TypeRef): string {
  if (t.kind === 'struct') {
    const body = t.fields.map((f) => fits(f.type, `v.${f.name}`)).join(' &&\n    ');
    return `function fits${name}(v: any): v is ${name} {\n  return typeof v === 'object' && v !== null &&\n    ${body};\n}`;
  }
  if (t.kind === 'array') {
    const el = t.element;
    if (el.kind === 'int' && el.bits === 8) {
      return `function fits${name}(v: any): v is ${name} {\n  return v instanceof Uint8Array && v.length === ${t.length};\n}`;
    }
    return `function fits${name}(v: any): v is ${name} {\n  return Array.isArray(v) && v.length === ${t.length} && v.every((x: any) => ${fits(el, 'x')});\n}`;
  }
  return '';
}

/** How a type is described to tools (the descriptor's message table). */
export function typeInfo(t: TypeRef): string {
  switch (t.kind) {
    case 'int':
      return `{ k: 'int', bits: ${t.bits}, signed: ${t.signed} }`;
    case 'enum':
      return `{ k: 'enum', n: ${t.members.length} }`;
    case 'struct':
      return `{ k: 'struct', fields: [${t.fields.map((f) => `['${f.name}', ${typeInfo(f.type)}]`).join(', ')}] }`;
    case 'array':
      return `{ k: 'array', of: ${typeInfo(t.element)}, n: ${t.length} }`;
    case 'dynarray':
      return `{ k: 'dynarray', of: ${typeInfo(t.element)} }`;
    case 'cap':
      return `{ k: 'cap' }`;
    default:
      return `{ k: '${t.kind}' }`;
  }
}

/** The name of a type as Flounder wrote it, for error messages. */
export function flounderName(t: TypeRef): string {
  switch (t.kind) {
    case 'int':
      return `${t.signed ? 'int' : 'uint'}${t.bits}`;
    case 'dynarray':
      return `${flounderName(t.element)}[]`;
    case 'array':
      return `${flounderName(t.element)}[${t.length}]`;
    case 'enum':
    case 'struct':
      return t.name;
    default:
      return t.kind;
  }
}
