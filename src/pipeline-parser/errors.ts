/** A position in a pipeline source file; line and column count from 1. */
export interface SourcePosition {
  line: number;
  column: number;
}

/**
 * One problem in a pipeline file, positioned like a compiler diagnostic.
 * Callers read the fields; `toString()` gives `FILE:LINE:COL: message`.
 */
export class PipelineError extends Error {
  override readonly name = "PipelineError";
  readonly file: string;
  readonly line: number;
  readonly column: number;

  constructor(file: string, position: SourcePosition, message: string) {
    super(message);
    this.file = file;
    this.line = Math.max(1, Math.floor(position.line));
    this.column = Math.max(1, Math.floor(position.column));
  }

  override toString(): string {
    return `${this.file}:${this.line}:${this.column}: ${this.message}`;
  }

  toJSON(): { file: string; line: number; column: number; message: string } {
    return { file: this.file, line: this.line, column: this.column, message: this.message };
  }
}

/** Sorts errors by file, then position, and drops exact duplicates. */
export function sortErrors(errors: readonly PipelineError[]): PipelineError[] {
  const seen = new Set<string>();
  const out: PipelineError[] = [];
  for (const e of errors) {
    const key = e.toString();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(e);
  }
  return out.sort((a, b) => (a.file === b.file ? a.line - b.line || a.column - b.column : a.file < b.file ? -1 : 1));
}
