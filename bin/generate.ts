// `npm run generate`: regenerate protocols/generated/ from protocols/*.if and errors.fugu.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateRepository } from '../tools/flounder/generate-all.ts';
import { CompileError } from '../tools/flounder/source.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
try {
  for (const f of await generateRepository(root)) {
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
