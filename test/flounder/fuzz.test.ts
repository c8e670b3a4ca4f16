// No input makes the compiler throw: random text, token soup, and mutations of real files.
import { readdirSync, readFileSync } from 'node:fs';
import test from 'ava';
import fc from 'fast-check';
import { compileInterface, formatDiagnostics } from '../../tools/flounder/compile.ts';
import { parseErrorRegistry } from '../../tools/flounder/fugu.ts';

const dirs = [
  new URL('../../protocols/', import.meta.url),
  new URL('../fixtures/protocols/', import.meta.url),
];
const realFiles = dirs.flatMap((d) =>
  readdirSync(d)
    .filter((f) => f.endsWith('.if'))
    .map((f) => ({ name: f, text: readFileSync(new URL(f, d), 'utf8') })),
);

/** Compile and check the outcome is well-formed: code, or diagnostics that point inside the text. */
function wellFormed(name: string, text: string): boolean {
  const r = compileInterface(name, text);
  if (r.code !== undefined) return r.diagnostics.length === 0 && r.model!.messages.length > 0;
  if (r.diagnostics.length === 0) return false;
  for (const d of r.diagnostics) {
    if (!(d.span.start >= 0 && d.span.start <= text.length && d.span.end > d.span.start)) return false;
  }
  return /^[^:\n]+:\d+:\d+: error: /.test(formatDiagnostics(r.diagnostics));
}

const vocabulary = [
  'interface',
  'x',
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
  'uint8',
  'uint64',
  'int32',
  'bool',
  'string',
  'cap',
  'errval',
  'size',
  'char',
  'a',
  'b',
  'len',
  '__x',
  'class',
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  ';',
  ',',
  '=',
  '0',
  '6',
  '0x10',
  '017',
  '"text"',
  '// c\n',
  '/* c */',
  '"',
  '/*',
];

test('random text never makes the compiler throw', (t) => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => wellFormed('x.if', s)),
    { numRuns: 3000 },
  );
  t.pass();
});

test('token soup never makes the compiler throw', (t) => {
  const soup = fc
    .array(fc.tuple(fc.constantFrom(...vocabulary), fc.constantFrom(' ', '\n', '\t', '')), { maxLength: 60 })
    .map((ts) => `interface x { ${ts.map(([a, b]) => a + b).join('')}`);
  fc.assert(
    fc.property(soup, (s) => wellFormed('x.if', s)),
    { numRuns: 3000 },
  );
  t.pass();
});

test('mutations of the real interface files never make the compiler throw', (t) => {
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 20 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(...vocabulary) }),
    fc.record({
      kind: fc.constant('char' as const),
      at: fc.nat(),
      text: fc.string({ minLength: 1, maxLength: 2 }),
    }),
  );
  const subject = fc.tuple(fc.constantFrom(...realFiles), fc.array(edit, { minLength: 1, maxLength: 5 }));
  fc.assert(
    fc.property(subject, ([file, edits]) => {
      let text = file.text;
      for (const e of edits) {
        const at = e.at % (text.length + 1);
        text =
          e.kind === 'delete'
            ? text.slice(0, at) + text.slice(at + e.len)
            : text.slice(0, at) + e.text + text.slice(at);
      }
      return wellFormed(file.name, text);
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('random text never makes the error-registry parser throw', (t) => {
  fc.assert(
    fc.property(fc.string({ maxLength: 200 }), (s) => {
      const r = parseErrorRegistry('e.fugu', `errors s S_ {${s}`);
      return r.registry !== undefined || r.diagnostics.length > 0;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});
