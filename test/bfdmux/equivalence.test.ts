// Property tests: on random expressions and random packets the VM, the JIT and the
// language's definition agree, optimised or not; the parser honours precedence; and
// the verifier takes any bytes without throwing (what it accepts, VM and JIT agree on).
import test from 'ava';
import fc from 'fast-check';
import {
  compileFilter,
  executeFilter,
  jitFilter,
  parseFilter,
  prepare,
  verifyFilter,
} from '../../lib/bfdmux/index.ts';
import { arbitraryExpr, print, printMinimal, reference, shape } from '../helpers/filters.ts';

const packet = fc.uint8Array({ maxLength: 48 });

test('VM, JIT and the definition agree on random expressions and packets', (t) => {
  let wide = 0;
  let narrow = 0;
  fc.assert(
    fc.property(arbitraryExpr(), fc.array(packet, { minLength: 1, maxLength: 8 }), (e, packets) => {
      const text = print(e);
      for (const optimise of [true, false]) {
        const f = compileFilter(text, { optimise });
        if (f.program.narrow) narrow++;
        else wide++;
        const vm = prepare(f.program);
        const jit = jitFilter(f.program);
        for (const p of packets) {
          const want = reference(e, p);
          const got = [executeFilter(vm, p), executeFilter(f.code, p), jit(p, p.length)];
          if (!got.every((g) => g === want)) throw new Error(`${text} on [${p}]: want ${want}, got ${got}`);
        }
      }
    }),
    { numRuns: 3000 },
  );
  t.true(narrow > 100 && wide > 100, `both executors exercised (narrow ${narrow}, wide ${wide})`);
});

test('with a length shorter than the buffer, loads beyond it fail in every executor', (t) => {
  fc.assert(
    fc.property(arbitraryExpr(4), packet, fc.nat(48), (e, p, n) => {
      const len = Math.min(n, p.length);
      const f = compileFilter(print(e));
      const want = reference(e, p, len);
      return executeFilter(f.code, p, len) === want && jitFilter(f.program)(p, len) === want;
    }),
    { numRuns: 2000 },
  );
  t.pass();
});

test('precedence and associativity: minimal parentheses parse back to the same tree', (t) => {
  fc.assert(
    fc.property(arbitraryExpr(), (e) => {
      const back = parseFilter(printMinimal(e));
      return (
        JSON.stringify(shape(back), (_, v) => (typeof v === 'bigint' ? `${v}n` : v)) ===
        JSON.stringify(shape(e), (_, v) => (typeof v === 'bigint' ? `${v}n` : v))
      );
    }),
    { numRuns: 3000 },
  );
  t.pass();
});

test('the verifier takes any bytes without throwing; whatever it accepts, VM and JIT agree', (t) => {
  let accepted = 0;
  const opcodes = [
    0x11, 0x12, 0x13, 0x14, 0x15, 0x21, 0x22, 0x23, 0x24, 0x25, 0x31, 0x32, 0x33, 0x34, 0x35, 0x41, 0x42,
    0x43, 0x51, 0x52, 0x53, 0x54, 0x61, 0x62, 0x63, 0x64, 0x71, 0x72, 0x73, 0x74,
  ];
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 40 }),
    fc
      .array(fc.oneof(fc.constantFrom(...opcodes), fc.integer({ min: 0, max: 255 })), { maxLength: 40 })
      .map((a) => Uint8Array.from(a)),
  );
  fc.assert(
    fc.property(bytes, packet, (code, p) => {
      const v = verifyFilter(code);
      if (!v.ok) return executeFilter(code, p) < 0;
      accepted++;
      return executeFilter(prepare(v.program), p) === jitFilter(v.program)(p, p.length);
    }),
    { numRuns: 20000 },
  );
  t.true(accepted > 50, `some random codes verify (${accepted})`);
});
