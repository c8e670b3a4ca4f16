// A source file and positions in it. Every diagnostic of the IDL compiler points
// into one of these, so that errors read `file:line:column` with the line and a caret.

export interface Span {
  readonly start: number; // offset of the first character
  readonly end: number; // offset one past the last character (end > start, except at end of file)
}

export class SourceFile {
  readonly lineStarts: number[] = [0];

  constructor(
    readonly name: string,
    readonly text: string,
  ) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }

  /** 1-based line and column of an offset. */
  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo]! + 1 };
  }

  lineText(line: number): string {
    const start = this.lineStarts[line - 1] ?? this.text.length;
    const next = this.lineStarts[line];
    const end = next === undefined ? this.text.length : next - 1;
    return this.text.slice(start, end).replace(/\r$/, '');
  }
}

export interface Diagnostic {
  readonly file: SourceFile;
  readonly span: Span;
  readonly message: string;
  readonly notes?: readonly { span: Span; message: string }[];
}

/** `file:line:col: error: message`, the source line, and a caret under the span. */
export function formatDiagnostic(d: Diagnostic): string {
  const out = [formatOne(d.file, d.span, 'error', d.message)];
  for (const n of d.notes ?? []) out.push(formatOne(d.file, n.span, 'note', n.message));
  return out.join('\n');
}

function formatOne(file: SourceFile, span: Span, level: string, message: string): string {
  const { line, column } = file.position(span.start);
  const text = file.lineText(line);
  const lineEnd = file.lineStarts[line - 1]! + text.length;
  const width = Math.max(1, Math.min(span.end, lineEnd) - span.start);
  // Tabs in the source line keep their width in the caret line so the caret lines up.
  const pad = text.slice(0, column - 1).replace(/[^\t]/g, ' ');
  const gutter = String(line).length;
  return (
    `${file.name}:${line}:${column}: ${level}: ${message}\n` +
    `${' '.repeat(gutter)} |\n` +
    `${line} | ${text}\n` +
    `${' '.repeat(gutter)} | ${pad}^${'~'.repeat(width - 1)}`
  );
}

/** Thrown by nothing: compilers return diagnostics. This wraps them when a caller wants an exception. */
export class CompileError extends Error {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join('\n'));
    this.name = 'CompileError';
  }
}
