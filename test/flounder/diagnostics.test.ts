// Every kind of error in a .if file, with where it is reported and what it says.
import test from 'ava';
import { compileInterface, formatDiagnostics } from '../../tools/flounder/compile.ts';
import { parseErrorRegistry } from '../../tools/flounder/fugu.ts';

interface Case {
  readonly src: string;
  readonly at: string; // line:column
  readonly message: RegExp;
}

// Sources are compiled as x.if, so the interface is named x.
const cases: Record<string, Case> = {
  'unexpected character': {
    src: 'interface x { message m(uint8 a$); };',
    at: '1:32',
    message: /unexpected character '\$'/,
  },
  'unterminated comment': {
    src: 'interface x { /* never closed\n message m(); };',
    at: '1:15',
    message: /unterminated comment/,
  },
  'unterminated string': {
    src: 'interface x "no end\n{ message m(); };',
    at: '1:13',
    message: /unterminated string/,
  },
  'bad number': {
    src: 'interface x { typedef uint8 a[0x]; message m(); };',
    at: '1:31',
    message: /bad number '0x'/,
  },
  'missing interface keyword': {
    src: 'message m();',
    at: '1:1',
    message: /expected 'interface' at the start/,
  },
  'missing interface name': {
    src: 'interface { message m(); };',
    at: '1:11',
    message: /expected the interface name, found '\{'/,
  },
  'missing opening brace': {
    src: 'interface x message m(); };',
    at: '1:13',
    message: /expected '\{' to open the interface body/,
  },
  'missing semicolon after message': {
    src: 'interface x {\n  message m()\n  message n();\n};',
    at: '2:14',
    message: /missing ';' after '\)'/,
  },
  'missing semicolon at the end': {
    src: 'interface x { message m(); }',
    at: '1:29',
    message: /missing ';' after '\}'/,
  },
  'end of file inside the body': {
    src: 'interface x { message m();',
    at: '1:27',
    message: /unexpected end of file: .* closing '\}'/,
  },
  'something after the interface': {
    src: 'interface x { message m(); }; extra',
    at: '1:31',
    message: /unexpected 'extra' after the end/,
  },
  'unknown declaration keyword': {
    src: 'interface x { messge m(); };',
    at: '1:15',
    message: /expected a type declaration .* found 'messge'/,
  },
  'types after messages': {
    src: 'interface x { message m(); alias a uint8; };',
    at: '1:28',
    message: /type declarations must come before the messages/,
  },
  'no messages': {
    src: 'interface x { alias a uint8; };',
    at: '1:11',
    message: /interface 'x' declares no messages/,
  },
  'rpc argument without in/out': {
    src: 'interface x { rpc r(uint8 a); };',
    at: '1:21',
    message: /expected 'in' or 'out' before an rpc argument/,
  },
  'in/out outside an rpc': {
    src: 'interface x { message m(in uint8 a); };',
    at: '1:25',
    message: /'in' is only allowed in an rpc/,
  },
  'fixed-size array argument': {
    src: 'interface x { message m(uint8 a[6]); };',
    at: '1:33',
    message: /fixed-size array argument needs a typedef/,
  },
  'enum member with a value': {
    src: 'interface x { typedef enum { A = 1 } e; message m(); };',
    at: '1:32',
    message: /enum members cannot be given values/,
  },
  'empty struct': {
    src: 'interface x { typedef struct { } s; message m(); };',
    at: '1:32',
    message: /struct needs at least one field/,
  },
  'array inside a struct': {
    src: 'interface x { typedef struct { uint8 a[4]; } s; message m(); };',
    at: '1:39',
    message: /arrays inside a struct are not supported/,
  },
  'missing argument name': {
    src: 'interface x { message m(uint8); };',
    at: '1:30',
    message: /expected an argument name, found '\)'/,
  },
  'comma without argument': {
    src: 'interface x { message m(uint8 a,); };',
    at: '1:33',
    message: /expected an argument type, found '\)'/,
  },

  // Semantic errors: all of them are reported, each at its name.
  'unknown type, with a suggestion': {
    src: 'interface x { message m(uint9 a); };',
    at: '1:25',
    message: /unknown type 'uint9' \(did you mean 'uint8'\?\)/,
  },
  'unknown type in a typedef': {
    src: 'interface x { alias a frob; message m(); };',
    at: '1:23',
    message: /unknown type 'frob' in the definition of 'a'/,
  },
  'duplicate message': {
    src: 'interface x {\n message m();\n message m(uint8 a);\n};',
    at: '3:10',
    message: /duplicate message 'm'/,
  },
  'duplicate argument': {
    src: 'interface x { message m(uint8 a, uint16 a); };',
    at: '1:41',
    message: /argument 'a' clashes with another argument/,
  },
  'array length name clashes with an argument': {
    src: 'interface x { message m(uint32 len, uint8 buf[len]); };',
    at: '1:47',
    message: /array length name 'len' clashes with another argument of 'm'/,
  },
  'two arrays with one length name': {
    src: 'interface x { message m(uint8 a[n], uint8 b[n]); };',
    at: '1:45',
    message: /array length name 'n' clashes/,
  },
  'dynamic array of strings': {
    src: 'interface x { message m(string s[n]); };',
    at: '1:25',
    message: /dynamic array holds integers or chars, not 'string'/,
  },
  'Flounder reserved word': {
    src: 'interface x { message rpc(); };',
    at: '1:23',
    message: /'rpc' is a reserved word of the interface language/,
  },
  'TypeScript reserved word': {
    src: 'interface x { message m(uint8 class); };',
    at: '1:31',
    message: /'class' is a reserved word in TypeScript/,
  },
  'generated-code prefix': {
    src: 'interface x { message m(uint8 __w); };',
    at: '1:31',
    message: /names starting with '__' are reserved/,
  },
  'redefined builtin': {
    src: 'interface x { alias uint8 uint16; message m(); };',
    at: '1:21',
    message: /'uint8' is a builtin type/,
  },
  'duplicate type': {
    src: 'interface x { alias a uint8; alias a uint16; message m(); };',
    at: '1:36',
    message: /duplicate type 'a'/,
  },
  'types that clash in TypeScript': {
    src: 'interface x { alias port_type uint8; alias PortType uint8; message m(); };',
    at: '1:44',
    message: /would both be 'PortType' in TypeScript/,
  },
  'type defined in terms of itself': {
    src: 'interface x { typedef b a; typedef a b; message m(a v); };',
    at: '1:36',
    message: /type 'a' is defined in terms of itself/,
  },
  'array of length zero': {
    src: 'interface x { typedef uint8 a[0]; message m(); };',
    at: '1:31',
    message: /array length must be between 1 and 65536, not 0/,
  },
  'array of strings': {
    src: 'interface x { typedef string a[2]; message m(); };',
    at: '1:23',
    message: /fixed array holds integers/,
  },
  'capability in a struct': {
    src: 'interface x { typedef struct { cap c; } s; message m(); };',
    at: '1:32',
    message: /struct field cannot be a capability/,
  },
  'duplicate enum member': {
    src: 'interface x { typedef enum { A, B, A } e; message m(); };',
    at: '1:36',
    message: /duplicate enum member 'A'/,
  },
  'duplicate struct field': {
    src: 'interface x { typedef struct { uint8 a; uint8 a; } s; message m(); };',
    at: '1:47',
    message: /duplicate field 'a' in struct 's'/,
  },
};

for (const [name, c] of Object.entries(cases)) {
  test(`error: ${name}`, (t) => {
    const r = compileInterface('x.if', c.src);
    t.is(r.code, undefined);
    t.true(r.diagnostics.length > 0);
    const text = formatDiagnostics(r.diagnostics);
    const first = text.split('\n')[0]!;
    t.true(first.startsWith(`x.if:${c.at}: error: `), `${first} (expected at ${c.at})`);
    t.regex(first, c.message);
    // The source line and a caret under the place follow.
    const [, , line, caret] = text.split('\n');
    t.regex(line!, /^\d+ \| /);
    const col = Number(c.at.split(':')[1]);
    t.is(caret!.indexOf('^') - caret!.indexOf('|') - 2, col - 1, 'caret under the column');
  });
}

test('the file must be named after its interface', (t) => {
  const r = compileInterface('protocols/wrong.if', 'interface right { message m(); };');
  t.regex(
    formatDiagnostics(r.diagnostics),
    /protocols\/wrong\.if:1:11: error: interface 'right' must be in a file named right\.if/,
  );
});

test('semantic errors are all reported, not only the first', (t) => {
  const r = compileInterface(
    'x.if',
    'interface x {\n message a(frob f);\n message a();\n message b(uint8 class);\n};',
  );
  const lines = formatDiagnostics(r.diagnostics)
    .split('\n')
    .filter((l) => l.startsWith('x.if:') && l.includes(': error: '));
  t.deepEqual(
    lines.map((l) => l.split(': error: ')[0]),
    ['x.if:2:12', 'x.if:3:10', 'x.if:4:18'],
  );
});

test('a duplicate points at the first definition with a note', (t) => {
  const r = compileInterface('x.if', 'interface x {\n message m();\n message m();\n};');
  t.regex(formatDiagnostics(r.diagnostics), /x\.if:2:10: note: first declared here/);
});

test('tabs in the source keep the caret under the column', (t) => {
  const r = compileInterface('x.if', 'interface x {\n\tmessage m(uint9 a);\n};');
  const text = formatDiagnostics(r.diagnostics);
  t.true(text.includes(`2 | \tmessage m(uint9 a);\n  | \t${' '.repeat(10)}^~~~~`), text);
});

test('the error registry reports its errors the same way', (t) => {
  const bad = parseErrorRegistry(
    'e.fugu',
    'errors s S_ {\n  failure A "a",\n  failure A "again",\n  oops B "b"\n};',
  );
  t.is(bad.registry, undefined);
  t.regex(formatDiagnostics(bad.diagnostics), /e\.fugu:3:11: error: duplicate error name 'S_A'/);
  const bad2 = parseErrorRegistry('e.fugu', 'errors s S_ { failure A };');
  t.regex(
    formatDiagnostics(bad2.diagnostics),
    /e\.fugu:1:25: error: expected the error's text as a string after A/,
  );
  const good = parseErrorRegistry(
    'e.fugu',
    'errors s S_ { failure A "a", success B "b" };\nerrors t T_ { failure A "a" };',
  );
  t.deepEqual(
    good.registry!.subsystems.flatMap((s) => s.entries.map((e) => [e.name, e.code, e.failure])),
    [
      ['S_A', 0x101, true],
      ['S_B', 0x102, false],
      ['T_A', 0x201, true],
    ],
  );
});
