import type { PipelineError, SourcePosition } from "./errors.js";
import type { PathSegment, SourceDoc } from "./source-doc.js";
import { keepNumbersAsWritten } from "./yaml-numbers.js";
import { readPlainYaml } from "./yaml-plain.js";

export type YamlParseResult = { ok: true; doc: SourceDoc } | { ok: false; errors: PipelineError[] };

/**
 * Parses YAML keeping node positions; syntax errors and duplicate keys come
 * back positioned. The `yaml` library (yaml-full.ts) is loaded only for a
 * file the fast reader leaves to it.
 */
export async function parseYamlSource(file: string, text: string): Promise<YamlParseResult> {
  return plainYamlSource(file, text) ?? (await import("./yaml-full.js")).fullYamlSource(file, text);
}

/** The common case, read by the fast reader (yaml-plain.ts); null when the text needs the full parser. */
export function plainYamlSource(file: string, text: string): YamlParseResult | null {
  const plain = readPlainYaml(text);
  if (!plain) return null;
  // The reader reads integers only in canonical form, so each is written as String(n).
  keepNumbersAsWritten(plain.value, (_path, n) => String(n));
  const at = lineLocator(text);
  const locate = (path: readonly PathSegment[], target: "key" | "value" = "value"): SourcePosition => {
    // As walk() below: the deepest node the path reaches.
    let found: { keyOffset?: number; valueOffset: number } = { valueOffset: plain.rootOffset };
    let prefix = "";
    for (const seg of path) {
      const inSeq = plain.sequences.has(prefix);
      const s = String(seg);
      if (inSeq && !/^\d+$/.test(s)) break;
      const next = (prefix === "" ? "" : `${prefix}\u0000`) + (inSeq ? String(Number(s)) : s);
      const offsets = plain.offsets.get(next);
      if (!offsets) break;
      found = offsets;
      prefix = next;
    }
    return at(target === "key" ? (found.keyOffset ?? found.valueOffset) : found.valueOffset);
  };
  return { ok: true, doc: { file, value: plain.value, locate } };
}

/** Line and column (from 1) of an offset. */
function lineLocator(text: string): (offset: number) => SourcePosition {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] ?? 0) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - (starts[lo] ?? 0) + 1 };
  };
}
