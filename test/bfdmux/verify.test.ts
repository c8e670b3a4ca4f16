// The verifier refuses bad code with the registry error and the byte offset of the problem.
import test from 'ava';
import { compileFilter, executeFilter, fromHex, MAX_CODE, verifyFilter } from '../../lib/bfdmux/index.ts';
import { Err } from '../../protocols/errors.ts';

const cases: [string, string, string, number][] = [
  ['unknown opcode', '11 99 61 00', 'BFDMUX_ERR_BAD_OPCODE', 1],
  ['immediate cut short', '11 61 00 62 06', 'BFDMUX_ERR_CODE_OVERRUN', 4],
  ['missing operand', '11 61 00', 'BFDMUX_ERR_CODE_OVERRUN', 3],
  ['skip past the end', '42 ff 00 00 00 61 01 61 01', 'BFDMUX_ERR_BAD_SKIP', 0],
  ['skip that does not match its operands', '43 03 00 00 00 61 00 61 01', 'BFDMUX_ERR_BAD_SKIP', 0],
  ['skip size cut short', '42 04 00', 'BFDMUX_ERR_CODE_OVERRUN', 1],
  ['bytes after the expression', '61 01 61 01', 'BFDMUX_ERR_TRAILING_CODE', 2],
  ['empty code', '', 'BFDMUX_ERR_CODE_OVERRUN', 0],
];

for (const [name, hex, error, at] of cases) {
  test(`refused: ${name}`, (t) => {
    const v = verifyFilter(fromHex(hex)!);
    t.false(v.ok);
    if (v.ok) return;
    t.is(v.error, error as never);
    t.is(v.at, at);
    t.true(v.reason.length > 0);
    t.is(
      executeFilter(fromHex(hex)!, new Uint8Array(8)),
      -Err[error as keyof typeof Err],
      'running it is that error, not a throw',
    );
  });
}

test('refused: code longer than allowed, or nested too deep', (t) => {
  const long = new Uint8Array(MAX_CODE + 1);
  const v = verifyFilter(long);
  t.false(v.ok);
  t.is(!v.ok && v.error, 'BFDMUX_ERR_CODE_TOO_LONG');
  // 300 nested NOTs: within the byte limit, past the depth limit.
  const deep = Uint8Array.from([...Array(300).fill(0x41), 0x61, 0x01]);
  const d = verifyFilter(deep);
  t.is(!d.ok && d.error, 'BFDMUX_ERR_CODE_TOO_LONG');
  t.is(verifyFilter('not bytes' as never).ok, false);
});

test('compiled code always verifies, and round-trips through hex', (t) => {
  const f = compileFilter('int16[12] == 0x800 && (int8[23] == 6 || int8[23] == 17)');
  const v = verifyFilter(fromHex(Buffer.from(f.code).toString('hex'))!);
  t.true(v.ok);
  t.is(fromHex('abc'), undefined);
  t.is(fromHex('zz'), undefined);
});
