import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { PipelineError, type SourcePosition } from "./errors.js";
import type { PathSegment, SourceDoc } from "./source-doc.js";
import { readPlainYaml } from "./yaml-plain.js";

type YamlNode = Node | null | undefined;

export type YamlParseResult = { ok: true; doc: SourceDoc } | { ok: false; errors: PipelineError[] };

/** Parses YAML keeping node positions; syntax errors and duplicate keys come back positioned. */
export function parseYamlSource(file: string, text: string): YamlParseResult {
  return plainYamlSource(file, text) ?? fullYamlSource(file, text);
}

/** The common case, read by the fast reader (yaml-plain.ts); null when the text needs the full parser. */
function plainYamlSource(file: string, text: string): YamlParseResult | null {
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

/** The full parser alone, without the fast reader; exported for the test that compares the two. */
export function fullYamlSource(file: string, text: string): YamlParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, keepSourceTokens: false });
  const at = (offset: number): SourcePosition => {
    const p = lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));
    return { line: p.line, column: p.col };
  };
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((e) => {
        const start = e.pos[0];
        const message =
          e.code === "DUPLICATE_KEY"
            ? `duplicate key ${JSON.stringify(keyText(text, start))}`
            : `YAML syntax error: ${firstLine(e.message)}`;
        return new PipelineError(file, at(start), message);
      }),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    // Alias bombs and similar resource limits surface here.
    return { ok: false, errors: [new PipelineError(file, { line: 1, column: 1 }, `YAML error: ${firstLine(String(e))}`)] };
  }
  keepNumbersAsWritten(value, (path) => numberSource(doc, path));
  const locate = (path: readonly PathSegment[], target: "key" | "value" = "value"): SourcePosition => {
    const found = walk(doc, path);
    const offset = target === "key" ? (found.keyOffset ?? found.valueOffset) : (found.valueOffset ?? found.keyOffset);
    return offset === undefined ? { line: 1, column: 1 } : at(offset);
  };
  return { ok: true, doc: { file, value, locate } };
}

interface Found {
  keyOffset?: number;
  valueOffset?: number;
}

/** Follows `path` as far as it exists; returns the deepest node reached. */
function walk(doc: Document, path: readonly PathSegment[]): Found {
  let node: YamlNode = doc.contents;
  let found: Found = { valueOffset: offsetOf(node) };
  for (const seg of path) {
    node = deref(doc, node);
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return found;
      const keyNode = pair.key as YamlNode;
      const keyOffset = offsetOf(keyNode);
      const valueNode = pair.value as YamlNode;
      const emptyValue = isScalar(valueNode) && valueNode.value === null && valueNode.range?.[0] === valueNode.range?.[1];
      found = { keyOffset, valueOffset: emptyValue ? keyOffset : (offsetOf(valueNode) ?? keyOffset) };
      node = valueNode;
    } else if (isSeq(node) && /^\d+$/.test(String(seg))) {
      const item = node.items[Number(seg)] as YamlNode;
      if (item === undefined) return found;
      found = { keyOffset: offsetOf(item), valueOffset: offsetOf(item) };
      node = item;
    } else {
      return found;
    }
  }
  return found;
}

function deref(doc: Document, node: YamlNode): YamlNode {
  let n = node;
  for (let i = 0; i < 10 && isAlias(n); i++) n = n.resolve(doc);
  return n;
}

function offsetOf(node: YamlNode): number | undefined {
  if (!node || !("range" in node) || !node.range) return undefined;
  return node.range[0];
}

/** The source text of the number scalar at `path`, if that is what is written there. */
function numberSource(doc: Document, path: readonly PathSegment[]): string | undefined {
  let node: YamlNode = doc.contents;
  for (const seg of path) {
    node = deref(doc, node);
    if (isMap(node)) node = node.get(String(seg), true);
    else if (isSeq(node) && typeof seg === "number") node = node.items[seg] as YamlNode;
    else return undefined;
  }
  node = deref(doc, node);
  return isScalar(node) && typeof node.value === "number" && typeof node.source === "string" && node.source !== "" ? node.source : undefined;
}

/**
 * `env` values and matrix values become strings; keep numbers as the author
 * wrote them (`1.10` stays "1.10", not "1.1"). `sourceOf` gives the written
 * text of the number at a path.
 */
function keepNumbersAsWritten(value: unknown, sourceOf: (path: PathSegment[], n: number) => string | undefined): void {
  if (!isRecord(value)) return;
  const fix = (path: PathSegment[], holder: Record<string, unknown> | unknown[], key: string | number): void => {
    const current = (holder as Record<string | number, unknown>)[key];
    if (typeof current !== "number") return;
    const source = sourceOf(path, current);
    if (source !== undefined) (holder as Record<string | number, unknown>)[key] = source;
  };
  const fixEnv = (env: unknown, path: PathSegment[]): void => {
    if (!isRecord(env)) return;
    for (const k of Object.keys(env)) fix([...path, k], env, k);
  };
  fixEnv(value.env, ["env"]);
  if (isRecord(value.defaults)) fixEnv(value.defaults.env, ["defaults", "env"]);
  if (!isRecord(value.stages)) return;
  for (const [name, stage] of Object.entries(value.stages)) {
    if (!isRecord(stage)) continue;
    fixEnv(stage.env, ["stages", name, "env"]);
    if (!isRecord(stage.matrix)) continue;
    for (const [axis, values] of Object.entries(stage.matrix)) {
      if (!Array.isArray(values)) continue;
      values.forEach((_, i) => fix(["stages", name, "matrix", axis, i], values, i));
    }
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function keyText(text: string, start: number): string {
  const raw = text.slice(start).split("\n")[0] ?? "";
  return raw.replace(/\s*:.*$/, "").replace(/^["']|["']$/g, "").trim();
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}
