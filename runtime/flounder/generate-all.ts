// The generated half of protocols/: what `npm run build` writes and what the
// staleness test compares against. One function so that both see the same thing.

import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { generateErrorsModule, parseErrorRegistry } from './fugu.ts';
import { CompileError } from './source.ts';

export interface GeneratedFile {
  readonly path: string; // absolute
  readonly text: string;
}

export async function generateAll(protocolsDir: string): Promise<GeneratedFile[]> {
  const out: GeneratedFile[] = [];
  const root = join(protocolsDir, '..');
  const fuguPath = join(protocolsDir, 'errors.fugu');
  const fugu = parseErrorRegistry(relative(root, fuguPath), await readFile(fuguPath, 'utf8'));
  if (!fugu.registry) throw new CompileError(fugu.diagnostics);
  out.push({
    path: join(protocolsDir, 'generated', 'errors.ts'),
    text: generateErrorsModule(fugu.registry, 'protocols/errors.fugu'),
  });
  void readdir;
  return out;
}
