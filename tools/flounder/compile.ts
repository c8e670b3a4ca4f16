// The compiler's front door: source text in; the checked model, the generated
// TypeScript, or diagnostics out. It never throws on any input.

import { checkInterface } from './check.ts';
import { generateModule } from './generate.ts';
import type { InterfaceModel } from './model.ts';
import { parseInterface } from './parser.ts';
import { type Diagnostic, formatDiagnostic, SourceFile } from './source.ts';

export interface CompileResult {
  readonly model?: InterfaceModel;
  readonly code?: string;
  readonly diagnostics: readonly Diagnostic[];
}

export const DEFAULT_RUNTIME_IMPORT = 'fishnet/bindings';

export function compileInterface(
  fileName: string,
  text: string,
  opts: { runtimeImport?: string; generate?: boolean } = {},
): CompileResult {
  const file = new SourceFile(fileName, text);
  const parsed = parseInterface(file);
  if (!parsed.ast) return { diagnostics: parsed.diagnostics };
  const checked = checkInterface(file, parsed.ast);
  if (!checked.model) return { diagnostics: checked.diagnostics };
  if (opts.generate === false) return { model: checked.model, diagnostics: [] };
  const code = generateModule(checked.model, {
    runtimeImport: opts.runtimeImport ?? DEFAULT_RUNTIME_IMPORT,
    source: fileName,
  });
  return { model: checked.model, code, diagnostics: [] };
}

export function formatDiagnostics(ds: readonly Diagnostic[]): string {
  return ds.map(formatDiagnostic).join('\n\n');
}
