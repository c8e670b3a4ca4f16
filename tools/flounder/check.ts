// Semantic checks of a parsed interface, producing the model the generators use.
// Every error found is reported (not only the first), each at its name in the source.

import { createHash } from 'node:crypto';
import type { Arg, InterfaceAst, Name, TypeDecl } from './ast.ts';
import {
  type ArgModel,
  type InterfaceModel,
  isRingScalar,
  type MessageModel,
  RING_HEADER_WORDS,
  type RingLayout,
  ringWords,
  type TypeDeclModel,
  type TypeRef,
} from './model.ts';
import type { Diagnostic, SourceFile, Span } from './source.ts';

const INT_BUILTINS: Record<string, { bits: 8 | 16 | 32 | 64; signed: boolean; ts: string }> = {
  uint8: { bits: 8, signed: false, ts: 'number' },
  uint16: { bits: 16, signed: false, ts: 'number' },
  uint32: { bits: 32, signed: false, ts: 'number' },
  uint64: { bits: 64, signed: false, ts: 'bigint' },
  int8: { bits: 8, signed: true, ts: 'number' },
  int16: { bits: 16, signed: true, ts: 'number' },
  int32: { bits: 32, signed: true, ts: 'number' },
  int: { bits: 32, signed: true, ts: 'number' },
  int64: { bits: 64, signed: true, ts: 'bigint' },
  char: { bits: 8, signed: false, ts: 'number' },
  uintptr: { bits: 64, signed: false, ts: 'bigint' },
  intptr: { bits: 64, signed: true, ts: 'bigint' },
};

const OTHER_BUILTINS: Record<string, TypeRef> = {
  size: { kind: 'size', display: 'number' },
  bool: { kind: 'bool', display: 'boolean' },
  errval: { kind: 'errval', display: 'ErrCode' },
  string: { kind: 'string', display: 'string' },
  cap: { kind: 'cap', giveAway: false, display: 'Capability' },
  give_away_cap: { kind: 'cap', giveAway: true, display: 'Capability' },
  iref: { kind: 'iref', display: 'number' },
};

const FLOUNDER_KEYWORDS = new Set([
  'interface',
  'message',
  'call',
  'response',
  'rpc',
  'in',
  'out',
  'alias',
  'typedef',
  'struct',
  'enum',
]);

// Names that cannot be TypeScript identifiers (parameters, locals) in the generated code.
const TS_RESERVED = new Set([
  'break',
  'case',
  'catch',
  'class',
  'const',
  'continue',
  'debugger',
  'default',
  'delete',
  'do',
  'else',
  'enum',
  'export',
  'extends',
  'false',
  'finally',
  'for',
  'function',
  'if',
  'import',
  'in',
  'instanceof',
  'new',
  'null',
  'return',
  'super',
  'switch',
  'this',
  'throw',
  'true',
  'try',
  'typeof',
  'var',
  'void',
  'while',
  'with',
  'as',
  'implements',
  'interface',
  'let',
  'package',
  'private',
  'protected',
  'public',
  'static',
  'yield',
  'await',
  'arguments',
  'eval',
  'undefined',
  'NaN',
  'Infinity',
  'constructor',
  '__proto__',
  'prototype',
]);

const MAX_ARRAY = 65536;
const MAX_MESSAGES = 4096;

export function checkInterface(
  file: SourceFile,
  ast: InterfaceAst,
): { model?: InterfaceModel; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const error = (span: Span, message: string, notes?: { span: Span; message: string }[]) =>
    diagnostics.push({ file, span, message, notes });

  const checkName = (n: Name, what: string) => {
    if (FLOUNDER_KEYWORDS.has(n.text))
      error(n, `'${n.text}' is a reserved word of the interface language and cannot name ${what}`);
    else if (TS_RESERVED.has(n.text))
      error(n, `'${n.text}' is a reserved word in TypeScript and cannot name ${what}`);
    else if (n.text.startsWith('__'))
      error(n, `names starting with '__' are reserved for generated code ('${n.text}')`);
  };

  // The file must be named after its interface, as Flounder required.
  const base = file.name.replace(/^.*[\\/]/, '');
  if (base.endsWith('.if') && base !== `${ast.name.text}.if`) {
    error(ast.name, `interface '${ast.name.text}' must be in a file named ${ast.name.text}.if, not ${base}`);
  }
  checkName(ast.name, 'an interface');

  // ---- types ----
  const decls = new Map<string, TypeDecl>();
  const tsNames = new Map<string, Name>();
  const ifacePascal = pascal(ast.name.text);
  const generatedNames = new Set([`${ifacePascal}Client`, `${ifacePascal}Server`, 'Capability', 'ErrCode']);
  for (const d of ast.types) {
    checkName(d.name, 'a type');
    if (INT_BUILTINS[d.name.text] || OTHER_BUILTINS[d.name.text]) {
      error(d.name, `'${d.name.text}' is a builtin type and cannot be redefined`);
      continue;
    }
    const before = decls.get(d.name.text);
    if (before) {
      error(d.name, `duplicate type '${d.name.text}'`, [
        { span: before.name, message: 'first declared here' },
      ]);
      continue;
    }
    decls.set(d.name.text, d);
    const ts = pascal(d.name.text);
    const clash = tsNames.get(ts);
    if (clash) {
      error(d.name, `type '${d.name.text}' and '${clash.text}' would both be '${ts}' in TypeScript`, [
        { span: clash, message: 'the other one' },
      ]);
    } else if (generatedNames.has(ts)) {
      error(d.name, `type '${d.name.text}' would clash with the generated name '${ts}'`);
    }
    tsNames.set(ts, d.name);
  }

  const resolved = new Map<string, TypeRef | null>(); // null: being resolved (cycle detection)
  const resolve = (ref: Name, context: string): TypeRef | undefined => {
    const int = INT_BUILTINS[ref.text];
    if (int) return { kind: 'int', bits: int.bits, signed: int.signed, display: int.ts };
    const other = OTHER_BUILTINS[ref.text];
    if (other) return other;
    const d = decls.get(ref.text);
    if (!d) {
      error(
        ref,
        `unknown type '${ref.text}'${suggest(ref.text, [...Object.keys(INT_BUILTINS), ...Object.keys(OTHER_BUILTINS), ...decls.keys()])} in ${context}`,
      );
      return undefined;
    }
    const cached = resolved.get(ref.text);
    if (cached) return cached;
    if (cached === null) {
      error(ref, `type '${ref.text}' is defined in terms of itself`);
      return undefined;
    }
    resolved.set(ref.text, null);
    const t = resolveDecl(d);
    if (t) resolved.set(ref.text, t);
    else resolved.delete(ref.text);
    return t;
  };

  const resolveDecl = (d: TypeDecl): TypeRef | undefined => {
    const display = pascal(d.name.text);
    switch (d.kind) {
      case 'alias': {
        const t = resolve(d.target, `the definition of '${d.name.text}'`);
        return t && ({ ...t, display } as TypeRef);
      }
      case 'enum': {
        const seen = new Map<string, Name>();
        for (const m of d.members) {
          checkName(m, 'an enum member');
          const b = seen.get(m.text);
          if (b) error(m, `duplicate enum member '${m.text}'`, [{ span: b, message: 'first declared here' }]);
          seen.set(m.text, m);
        }
        return { kind: 'enum', name: d.name.text, members: d.members.map((m) => m.text), display };
      }
      case 'struct': {
        const seen = new Map<string, Name>();
        const fields: { name: string; type: TypeRef }[] = [];
        let ok = true;
        for (const f of d.fields) {
          checkName(f.name, 'a struct field');
          const b = seen.get(f.name.text);
          if (b)
            error(f.name, `duplicate field '${f.name.text}' in struct '${d.name.text}'`, [
              { span: b, message: 'first declared here' },
            ]);
          seen.set(f.name.text, f.name);
          const t = resolve(f.type, `struct '${d.name.text}'`);
          if (!t) {
            ok = false;
            continue;
          }
          if (t.kind === 'cap' || t.kind === 'string' || t.kind === 'iref') {
            error(
              f.type,
              `a struct field cannot be a ${t.kind === 'cap' ? 'capability' : t.kind}: pass it as a message argument`,
            );
            ok = false;
          }
          fields.push({ name: f.name.text, type: t });
        }
        return ok ? { kind: 'struct', name: d.name.text, fields, display } : undefined;
      }
      case 'array': {
        if (!(d.length >= 1 && d.length <= MAX_ARRAY)) {
          error(d.lengthSpan, `array length must be between 1 and ${MAX_ARRAY}, not ${d.length}`);
        }
        const el = resolve(d.element, `array type '${d.name.text}'`);
        if (!el) return undefined;
        if (!isRingScalar(el)) {
          error(
            d.element,
            `a fixed array holds integers, bools, chars, enums or errvals, not '${d.element.text}'`,
          );
          return undefined;
        }
        return { kind: 'array', element: el, length: d.length, display };
      }
    }
  };

  const types: TypeDeclModel[] = [];
  for (const d of decls.values()) {
    const t = resolve(d.name, `the definition of '${d.name.text}'`);
    if (t) types.push({ name: d.name.text, tsName: pascal(d.name.text), type: t });
  }

  // ---- messages ----
  const messages: MessageModel[] = [];
  const names = new Map<string, Name>();
  if (ast.messages.length > MAX_MESSAGES) error(ast.name, `too many messages (at most ${MAX_MESSAGES})`);
  for (const m of ast.messages) {
    checkName(m.name, 'a message');
    const before = names.get(m.name.text);
    if (before) {
      error(m.name, `duplicate message '${m.name.text}'`, [{ span: before, message: 'first declared here' }]);
      continue;
    }
    names.set(m.name.text, m.name);
    const argNames = new Map<string, Span>();
    const ins: ArgModel[] = [];
    const outs: ArgModel[] = [];
    let statusName: string | undefined;
    let ok = true;
    for (const a of m.args) {
      const model = checkArg(a, m.name.text, argNames, resolve, checkName, error);
      if (!model) {
        ok = false;
        continue;
      }
      if (a.direction === 'out') {
        if (model.type.kind === 'errval' && statusName === undefined) statusName = model.name;
        else outs.push(model);
      } else ins.push(model);
    }
    if (!ok) continue;
    const kind = m.kind === 'rpc' ? 'rpc' : 'message';
    const direction = m.kind === 'call' || m.kind === 'rpc' ? 'c2s' : m.kind === 'response' ? 's2c' : 'both';
    const index = messages.length;
    const ring = layout(ins, kind === 'rpc' ? 1 : 0);
    const replyRing = kind === 'rpc' ? layout(outs, 2) : undefined;
    messages.push({
      index,
      name: m.name.text,
      kind,
      direction,
      args: ins,
      outs,
      statusName,
      ring,
      replyRing,
    });
  }

  if (diagnostics.length) return { diagnostics };
  const slotWords = Math.max(0, ...messages.flatMap((m) => [m.ring?.words ?? 0, m.replyRing?.words ?? 0]));
  const model: InterfaceModel = {
    name: ast.name.text,
    description: ast.description,
    types,
    messages,
    slotWords,
    hash: '',
  };
  return { model: { ...model, hash: wireHash(model) }, diagnostics };
}

function checkArg(
  a: Arg,
  message: string,
  seen: Map<string, Span>,
  resolve: (n: Name, context: string) => TypeRef | undefined,
  checkName: (n: Name, what: string) => void,
  error: (span: Span, message: string, notes?: { span: Span; message: string }[]) => void,
): ArgModel | undefined {
  checkName(a.name, 'an argument');
  const clash = (n: Name, what: string) => {
    const b = seen.get(n.text);
    if (b)
      error(n, `${what} '${n.text}' clashes with another argument of '${message}'`, [
        { span: b, message: 'also declared here' },
      ]);
    seen.set(n.text, n);
  };
  clash(a.name, 'argument');
  const t = resolve(a.type, `message '${message}'`);
  if (!t) return undefined;
  if (a.lengthName) {
    checkName(a.lengthName, 'an array length');
    clash(a.lengthName, 'array length name');
    if (t.kind !== 'int') {
      error(a.type, `a dynamic array holds integers or chars, not '${a.type.text}'`);
      return undefined;
    }
    return {
      name: a.name.text,
      type: { kind: 'dynarray', element: t, display: typedArrayOf(t) },
      lengthName: a.lengthName.text,
    };
  }
  return { name: a.name.text, type: t };
}

/** The ring slot layout of a message part, or undefined when some argument cannot travel on a ring. */
function layout(args: readonly ArgModel[], kind: 0 | 1 | 2): RingLayout | undefined {
  if (!args.every((a) => isRingScalar(a.type))) return undefined;
  // Header: code, ordering tag; rpc calls add the call id, replies the call id and the status.
  let at = RING_HEADER_WORDS + (kind === 0 ? 0 : kind === 1 ? 1 : 2);
  const offsets: number[] = [];
  for (const a of args) {
    offsets.push(at);
    at += ringWords(a.type);
  }
  return { words: at, offsets };
}

export function typedArrayOf(t: TypeRef): string {
  if (t.kind !== 'int') return 'Uint8Array';
  if (t.bits === 64) return t.signed ? 'BigInt64Array' : 'BigUint64Array';
  return `${t.signed ? 'Int' : 'Uint'}${t.bits}Array`;
}

/** snake_case (or anything) to PascalCase: port_type -> PortType. */
export function pascal(name: string): string {
  return name
    .split(/_+/)
    .filter(Boolean)
    .map((p) => p[0]!.toUpperCase() + p.slice(1))
    .join('');
}

function wireHash(m: InterfaceModel): string {
  const type = (t: TypeRef): unknown =>
    t.kind === 'struct'
      ? { struct: t.fields.map((f) => [f.name, type(f.type)]) }
      : t.kind === 'array' || t.kind === 'dynarray'
        ? { [t.kind]: type(t.element), n: t.kind === 'array' ? t.length : undefined }
        : t.kind === 'enum'
          ? { enum: t.members }
          : t.kind === 'int'
            ? `${t.signed ? 'i' : 'u'}${t.bits}`
            : t.kind;
  const wire = m.messages.map((x) => [
    x.name,
    x.kind,
    x.direction,
    x.args.map((a) => [a.name, type(a.type)]),
    x.outs.map((a) => [a.name, type(a.type)]),
    x.statusName ?? null,
  ]);
  return createHash('sha256')
    .update(JSON.stringify([m.name, wire]))
    .digest('hex')
    .slice(0, 16);
}

function suggest(name: string, known: string[]): string {
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best ? ` (did you mean '${best}'?)` : '';
}

function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 99;
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return dp[b.length]!;
}
