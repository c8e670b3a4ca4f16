// Golden files: the generated modules in the tree are what the compiler makes of
// the .if files now (npm run generate rewrites them), and the checked model of each
// interface is what test/flounder/golden/ says (UPDATE_GOLDEN=1 rewrites those).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { compileInterface } from '../../tools/flounder/compile.ts';
import { generateRepository } from '../../tools/flounder/generate-all.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('generated code is up to date with the .if files and errors.fugu', async (t) => {
  const files = await generateRepository(root);
  t.true(files.length >= 6);
  for (const f of files) {
    let onDisk = '';
    try {
      onDisk = readFileSync(f.path, 'utf8');
    } catch {}
    t.true(onDisk === f.text, `${f.path.slice(root.length)} is stale: run npm run generate`);
  }
});

const sources = [
  ...['ether', 'ether_netd', 'netd'].map((n) => `protocols/${n}.if`),
  ...readdirSync(new URL('../fixtures/protocols/', import.meta.url))
    .filter((f) => f.endsWith('.if'))
    .map((f) => `test/fixtures/protocols/${f}`),
];

for (const src of sources) {
  test(`the checked model of ${src} matches its golden file`, (t) => {
    const r = compileInterface(src, readFileSync(`${root}/${src}`, 'utf8'), { generate: false });
    t.deepEqual(r.diagnostics, []);
    const actual = `${JSON.stringify(r.model, null, 2)}\n`;
    const golden = new URL(
      `./golden/${src.replace(/^.*\//, '').replace(/\.if$/, '.model.json')}`,
      import.meta.url,
    );
    if (process.env.UPDATE_GOLDEN) writeFileSync(golden, actual);
    t.is(actual, readFileSync(golden, 'utf8'));
  });
}

test('ring eligibility and slot layout of the data-path messages', (t) => {
  const r = compileInterface('ether.if', readFileSync(`${root}/protocols/ether.if`, 'utf8'), {
    generate: false,
  });
  const byName = Object.fromEntries(r.model!.messages.map((m) => [m.name, m]));
  // register_buffer carries a capability: port only. The data path is all ring.
  t.is(byName.register_buffer!.ring, undefined);
  t.deepEqual(byName.register_buffer!.replyRing, { words: 5, offsets: [4] });
  t.deepEqual(byName.register_pbuf!.ring, { words: 6, offsets: [2, 3, 4, 5] });
  t.deepEqual(byName.transmit_packet!.ring, { words: 7, offsets: [2, 3, 4, 5, 6] });
  t.deepEqual(byName.tx_done!.ring, { words: 4, offsets: [2, 3] });
  t.is(byName.get_statistics!.replyRing!.words, 12, '4 uint64 outs: 8 words after the 4 header words');
  t.is(r.model!.slotWords, 12);
});
