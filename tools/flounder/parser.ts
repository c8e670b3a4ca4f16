// Parser for Flounder interface files. Grammar:
//
//   file     := 'interface' NAME STRING? '{' typedecl* message+ '}' ';'
//   typedecl := 'alias' NAME NAME ';'
//             | 'typedef' 'struct' '{' (NAME NAME ';')+ '}' NAME ';'
//             | 'typedef' 'enum' '{' NAME (',' NAME)* ','? '}' NAME ';'
//             | 'typedef' NAME NAME '[' NUMBER ']' ';'
//             | 'typedef' NAME NAME ';'
//   message  := ('message' | 'call' | 'response') NAME '(' (arg (',' arg)*)? ')' ';'
//             | 'rpc' NAME '(' (('in' | 'out') arg (',' ('in' | 'out') arg)*)? ')' ';'
//   arg      := NAME NAME ('[' NAME ']')?
//
// Parsing stops at the first syntax error; the checker (check.ts) then finds every
// semantic error it can.

import type { Arg, Field, InterfaceAst, MessageDecl, MessageKind, Name, TypeDecl } from './ast.ts';
import { Cursor, describe, SyntaxStop } from './cursor.ts';
import { lex, type Token } from './lexer.ts';
import type { Diagnostic, SourceFile } from './source.ts';

const MESSAGE_KEYWORDS = new Set(['message', 'call', 'response', 'rpc']);

export function parseInterface(file: SourceFile): { ast?: InterfaceAst; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const tokens = lex(file, diagnostics);
  if (diagnostics.length) return { diagnostics };
  const c = new Cursor(file, tokens, diagnostics);
  try {
    const ast = parseFile(c);
    return { ast, diagnostics };
  } catch (e) {
    if (e instanceof SyntaxStop) return { diagnostics };
    throw e;
  }
}

function name(t: Token): Name {
  return { text: t.text, start: t.start, end: t.end };
}

function parseFile(c: Cursor): InterfaceAst {
  const first = c.peek();
  if (!c.isWord('interface'))
    c.fail(first, `expected 'interface' at the start of the file, found ${describe(first)}`);
  c.next();
  const ifname = name(c.expectIdent('the interface name'));
  let description: string | undefined;
  if (c.peek().kind === 'string') description = c.next().text;
  c.expect('{', "'{' to open the interface body");
  const types: TypeDecl[] = [];
  const messages: MessageDecl[] = [];
  while (!c.isPunct('}')) {
    const t = c.peek();
    if (t.kind === 'eof') c.fail(t, "unexpected end of file: the interface body is missing its closing '}'");
    if (t.kind === 'ident' && (t.text === 'alias' || t.text === 'typedef')) {
      if (messages.length) {
        c.fail(t, 'type declarations must come before the messages');
      }
      types.push(parseTypeDecl(c));
    } else if (t.kind === 'ident' && MESSAGE_KEYWORDS.has(t.text)) {
      messages.push(parseMessage(c));
    } else {
      c.fail(
        t,
        `expected a type declaration (alias, typedef) or a message (message, call, response, rpc), found ${describe(t)}`,
      );
    }
  }
  c.next();
  c.expect(';');
  const end = c.peek();
  if (end.kind !== 'eof') c.fail(end, `unexpected ${describe(end)} after the end of the interface`);
  if (messages.length === 0) c.fail(ifname, `interface '${ifname.text}' declares no messages`);
  return { name: ifname, description, types, messages, span: { start: first.start, end: c.previous().end } };
}

function parseTypeDecl(c: Cursor): TypeDecl {
  const kw = c.next();
  if (kw.text === 'alias') {
    const alias = name(c.expectIdent('the new type name'));
    const target = name(c.expectIdent('the type it stands for'));
    c.expect(';');
    return { kind: 'alias', name: alias, target, keyword: 'alias' };
  }
  if (c.isWord('struct')) {
    c.next();
    c.expect('{', "'{' to open the struct");
    const fields: Field[] = [];
    while (!c.isPunct('}')) {
      const type = name(c.expectIdent('a field type'));
      const fname = name(c.expectIdent('a field name'));
      if (c.isPunct('['))
        c.fail(c.peek(), 'arrays inside a struct are not supported: declare a fixed array type with typedef');
      c.expect(';');
      fields.push({ type, name: fname });
    }
    const close = c.next();
    if (fields.length === 0) c.fail(close, 'a struct needs at least one field');
    const sname = name(c.expectIdent('the struct type name'));
    c.expect(';');
    return { kind: 'struct', name: sname, fields };
  }
  if (c.isWord('enum')) {
    c.next();
    c.expect('{', "'{' to open the enum");
    const members: Name[] = [name(c.expectIdent('an enum member'))];
    while (c.eat(',')) {
      if (c.isPunct('}')) break;
      members.push(name(c.expectIdent('an enum member')));
    }
    if (c.isPunct('='))
      c.fail(c.peek(), 'enum members cannot be given values: they are numbered from 0 in order');
    c.expect('}', "',' or '}' in the enum");
    const ename = name(c.expectIdent('the enum type name'));
    c.expect(';');
    return { kind: 'enum', name: ename, members };
  }
  const target = name(c.expectIdent("a type after 'typedef'"));
  const tname = name(c.expectIdent('the new type name'));
  if (c.eat('[')) {
    const n = c.peek();
    if (n.kind !== 'number') c.fail(n, `expected the array length (a number), found ${describe(n)}`);
    c.next();
    c.expect(']');
    c.expect(';');
    return { kind: 'array', name: tname, element: target, length: n.value ?? 0, lengthSpan: n };
  }
  c.expect(';');
  return { kind: 'alias', name: tname, target, keyword: 'typedef' };
}

function parseMessage(c: Cursor): MessageDecl {
  const kw = c.next();
  const kind = kw.text as MessageKind;
  const mname = name(c.expectIdent('the message name'));
  c.expect('(', `'(' after the message name`);
  const args: Arg[] = [];
  if (!c.isPunct(')')) {
    do {
      args.push(parseArg(c, kind === 'rpc'));
    } while (c.eat(','));
  }
  c.expect(')', "',' or ')' in the argument list");
  c.expect(';');
  return { kind, name: mname, args, span: { start: kw.start, end: c.previous().end } };
}

function parseArg(c: Cursor, rpc: boolean): Arg {
  let direction: 'in' | 'out' | undefined;
  if (rpc) {
    const d = c.peek();
    if (!(d.kind === 'ident' && (d.text === 'in' || d.text === 'out'))) {
      c.fail(d, `expected 'in' or 'out' before an rpc argument, found ${describe(d)}`);
    }
    direction = c.next().text as 'in' | 'out';
  } else if (c.isWord('in') || c.isWord('out')) {
    c.fail(c.peek(), `'${c.peek().text}' is only allowed in an rpc; messages are one-way`);
  }
  const type = name(c.expectIdent('an argument type'));
  const aname = name(c.expectIdent('an argument name'));
  let lengthName: Name | undefined;
  if (c.eat('[')) {
    const l = c.peek();
    if (l.kind === 'number') {
      c.fail(
        l,
        'a fixed-size array argument needs a typedef (typedef uint8 mac[6];); [name] declares a dynamic array',
      );
    }
    lengthName = name(c.expectIdent('the name of the length argument'));
    c.expect(']');
  }
  return { direction, type, name: aname, lengthName };
}
