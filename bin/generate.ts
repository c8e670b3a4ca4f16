// `npm run generate`: regenerate protocols/generated/ from protocols/*.if and errors.fugu.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateAll } from '../runtime/flounder/generate-all.ts';
import { CompileError } from '../runtime/flounder/source.ts';

const protocols = fileURLToPath(new URL('../protocols/', import.meta.url));
try {
  for (const f of await generateAll(protocols)) {
    await mkdir(dirname(f.path), { recursive: true });
    await writeFile(f.path, f.text);
  }
} catch (e) {
  if (e instanceof CompileError) {
    console.error(e.message);
    process.exit(1);
  }
  throw e;
}
