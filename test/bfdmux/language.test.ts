// The filter language: encodings, semantics (the original's defects fixed), and errors with columns.
import test from 'ava';
import {
  compileFilter,
  DIV_ERROR,
  executeFilter,
  FilterError,
  jitFilter,
  LOAD_ERROR,
  parseFilter,
  toHex,
  vmFilter,
} from '../../lib/bfdmux/index.ts';
import { reference } from '../helpers/filters.ts';

const run = (expr: string, packet = new Uint8Array(64)) => {
  const f = compileFilter(expr);
  const vm = executeFilter(f.code, packet);
  const jit = jitFilter(f.program)(packet, packet.length);
  const ref = reference(parseFilter(expr), packet);
  if (vm !== jit || vm !== ref) throw new Error(`${expr}: vm ${vm}, jit ${jit}, reference ${ref}`);
  return vm;
};

test("the original's encodings are kept", (t) => {
  t.is(toHex(compileFilter('int16[12]==2054').code), '1172610c620608');
  t.is(toHex(compileFilter('0 || 1', { optimise: false }).code), '430400000061006101');
});

test('binary operators associate to the left (the original gave 5-2-1 = 4)', (t) => {
  t.is(run('5-2-1 == 2'), 1);
  t.is(run('5-2-1 == 4'), 0);
  t.is(run('100/10/5 == 2'), 1);
  t.is(run('2*3%4 == 2'), 1);
});

test('&& and || short-circuit correctly (the original skipped wrongly on 64-bit hosts)', (t) => {
  t.is(run('(0 && 1) || 1'), 1);
  const f = compileFilter('(0 && 1) || 1', { optimise: false });
  t.is(executeFilter(f.code, new Uint8Array(0)), 1, 'unoptimised code, run by the VM');
  t.is(run('int8[0] == 1 || int8[1000] == 1', Uint8Array.of(1)), 1, 'the right side is not evaluated');
  t.is(run('int8[0] == 2 && int8[1000] == 1', Uint8Array.of(1)), 0, 'nor here');
  t.is(run('int8[0] == 1 && int8[1000] == 1', Uint8Array.of(1)), LOAD_ERROR, 'but here it is, and fails');
});

test('~ works (the original lacked it), on 64 bits', (t) => {
  t.is(run('~0 == 0xffffffffffffffff'), 1);
  t.is(run('~0xffffffffffffffff == 0'), 1);
  t.is(run('~int8[0] == 0xfffffffffffffffe', Uint8Array.of(1)), 1);
  t.is(run('(~int8[0] & 255) == 254', Uint8Array.of(1)), 1);
});

test('signed and unsigned comparisons on 64-bit values', (t) => {
  t.is(run('0 - 1 < 0'), 1, 'signed: -1 < 0');
  t.is(run('0 - 1 } 0'), 1, 'unsigned: 2^64-1 > 0');
  t.is(run('0xffffffffffffffff == 0 - 1'), 1);
  t.is(run('0x8000000000000000 < 0x7fffffffffffffff'), 1);
  t.is(run('0x8000000000000000 } 0x7fffffffffffffff'), 1);
  t.is(run('0xffffffff * 0xffffffff == 0xfffffffe00000001'), 1);
  t.is(run('0xffffffffffffffff + 2 == 1'), 1, 'wraps modulo 2^64');
  t.is(run('(0 - 7) / 2 == 0x7ffffffffffffffc'), 1, 'division is unsigned');
});

test('division by zero and loads past the end are errors, hence no match, never a throw', (t) => {
  t.is(run('int8[0] / int8[1] == 0', Uint8Array.of(5, 0)), DIV_ERROR);
  t.is(run('int8[0] % 0 == 0'), DIV_ERROR);
  t.is(run('int32[62] == 0'), LOAD_ERROR);
  t.is(run('int64[int8[0]] == 0', Uint8Array.of(200)), LOAD_ERROR);
  t.is(run('int16[0 - 1] == 0'), LOAD_ERROR, 'a negative offset is a huge unsigned one');
  t.is(
    executeFilter(compileFilter('int8[3] == 0').code, new Uint8Array(64), 3),
    LOAD_ERROR,
    'the length given is respected',
  );
});

test('literals: decimal, hex, octal; computed offsets', (t) => {
  t.is(run('010 == 8 && 0x10 == 16 && 10 == 10'), 1);
  t.is(
    run(
      'int16[14 + (int8[14] & 15) * 4 + 2] == 53',
      (() => {
        const p = new Uint8Array(64);
        p[14] = 0x46; // IHL 6: ports 24 bytes on
        p[14 + 24 + 2] = 0;
        p[14 + 24 + 3] = 53;
        return p;
      })(),
    ),
    1,
  );
});

const errors: [string, number, RegExp][] = [
  ['', 1, /empty expression/],
  ['int16[12] ==', 13, /expected an operand after '=='/],
  ['int16[12 == 2054', 17, /expected '\]' to close the load/],
  ['(1 + 2', 7, /expected '\)' to match the '\(' at column 1/],
  ['1 + 2)', 6, /unmatched '\)'/],
  ['int16 12', 7, /expected '\[' after int16/],
  ['int12[0]', 1, /unknown word 'int12'/],
  ['1 $ 2', 3, /unexpected character '\$'/],
  ['09 == 9', 1, /bad octal number '09'/],
  ['0x == 1', 1, /bad hex number '0x'/],
  ['0x10000000000000000', 1, /does not fit 64 bits/],
  ['-1 == 0', 1, /negative literals are not supported/],
  ['1 == -1', 6, /negative literals are not supported/],
  ['1 2', 3, /unexpected '2' after the expression/],
  ['int8[]', 6, /expected an operand after '\['/],
  ['!', 2, /expected an operand after '!'/],
];

for (const [expr, column, message] of errors) {
  test(`syntax error: ${JSON.stringify(expr)} at column ${column}`, (t) => {
    const e = t.throws(() => compileFilter(expr)) as FilterError;
    t.true(e instanceof FilterError);
    t.is(e.errName, 'BFDMUX_ERR_SYNTAX');
    t.is(e.column, column);
    t.regex(e.message, message);
    const [first, line, caret] = e.format().split('\n');
    t.regex(first!, new RegExp(`at column ${column}$`));
    t.is(line, `  ${expr}`);
    t.is(caret!.indexOf('^'), 2 + column - 1);
  });
}

test('too deep and too long expressions are refused with a clear error', (t) => {
  const deep = `${'('.repeat(150)}1${')'.repeat(150)}`;
  t.throws(() => compileFilter(deep), { message: /nested deeper than 100/ });
  const chain = Array.from({ length: 300 }, (_, i) => `int8[${i % 40}] == ${i % 7}`).join(' || ');
  t.throws(() => compileFilter(chain), { message: /BFDMUX_ERR_CODE_TOO_LONG/ });
});

test('lastByteRead: what a filter may read, for the driver to copy before transmit filters', (t) => {
  t.is(compileFilter('int16[12] == 0x800').lastByteRead, 14);
  t.is(compileFilter('int32[30] == 1 || int8[5] == 1').lastByteRead, 34);
  t.is(compileFilter('int16[16 + (int8[14] & 15) * 4] == 53').lastByteRead, 16 + 60 + 2);
  t.is(compileFilter('1 == 1').lastByteRead, 0);
  t.is(compileFilter('int8[int32[0]] == 1').lastByteRead, 2 ** 32, 'bounded by what a 32-bit load can give');
  t.is(compileFilter('int8[int64[0]] == 1').lastByteRead, Number.POSITIVE_INFINITY);
});

test('code changed in place after it ran gives the new verdict, not a cached stale one', (t) => {
  const frame = new Uint8Array(20);
  frame[12] = 0x08;
  const code = compileFilter('int8[12] == 8').code.slice();
  t.is(executeFilter(code, frame), 1);
  code.set(compileFilter('int8[12] == 9').code);
  t.is(executeFilter(code, frame), 0, 'the same array, new bytes');
  const fixed = vmFilter(code);
  code.set(compileFilter('int8[12] == 8').code);
  t.is(fixed(frame, frame.length), 0, 'vmFilter took a copy when it was made');
});
