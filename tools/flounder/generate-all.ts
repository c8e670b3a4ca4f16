// The generated half of protocols/: what `npm run build` writes and what the
// staleness test compares against. One function so that both see the same thing.

import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { compileInterface } from './compile.ts';
import { generateErrorsModule, parseErrorRegistry } from './fugu.ts';
import { CompileError, type Diagnostic } from './source.ts';

export interface GeneratedFile {
  readonly path: string; // absolute
  readonly text: string;
}

/** How generated modules in protocols/generated/ reach the binding runtime. */
export const IN_TREE_RUNTIME = '../../runtime/binding/transport-mux.ts';

/** Everything generated in this repository: protocols/, and the interfaces the tests use. */
export async function generateRepository(root: string): Promise<GeneratedFile[]> {
  return [
    ...(await generateAll(join(root, 'protocols'))),
    ...(await generateInterfaces(
      root,
      join(root, 'test', 'fixtures', 'protocols'),
      '../../../../runtime/binding/transport-mux.ts',
    )),
  ];
}

/** Every .if file of a directory, each into generated/<name>.ts beside it. */
export async function generateInterfaces(
  root: string,
  dir: string,
  runtimeImport: string,
): Promise<GeneratedFile[]> {
  const out: GeneratedFile[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const name of (await readdir(dir)).filter((f) => f.endsWith('.if')).sort()) {
    const path = join(dir, name);
    const r = compileInterface(relative(root, path), await readFile(path, 'utf8'), { runtimeImport });
    if (r.code) out.push({ path: join(dir, 'generated', name.replace(/\.if$/, '.ts')), text: r.code });
    else diagnostics.push(...r.diagnostics);
  }
  if (diagnostics.length) throw new CompileError(diagnostics);
  return out;
}

export async function generateAll(protocolsDir: string): Promise<GeneratedFile[]> {
  const out: GeneratedFile[] = [];
  const diagnostics: Diagnostic[] = [];
  const root = join(protocolsDir, '..');
  const fuguPath = join(protocolsDir, 'errors.fugu');
  const fugu = parseErrorRegistry(relative(root, fuguPath), await readFile(fuguPath, 'utf8'));
  if (fugu.registry) {
    out.push({
      path: join(protocolsDir, 'generated', 'errors.ts'),
      text: generateErrorsModule(fugu.registry, 'protocols/errors.fugu'),
    });
  } else diagnostics.push(...fugu.diagnostics);
  try {
    out.push(...(await generateInterfaces(root, protocolsDir, IN_TREE_RUNTIME)));
  } catch (e) {
    if (!(e instanceof CompileError)) throw e;
    diagnostics.push(...e.diagnostics);
  }
  if (diagnostics.length) throw new CompileError(diagnostics);
  return out;
}
