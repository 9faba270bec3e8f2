/** Pipeline YAML through the full `yaml` library: every document the fast reader (yaml-plain.ts) leaves to it. */
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from "yaml";
import { PipelineError, type SourcePosition } from "./errors.js";
import type { PathSegment } from "./source-doc.js";
import { keepNumbersAsWritten } from "./yaml-numbers.js";
import type { YamlParseResult } from "./yaml-source.js";

type YamlNode = Node | null | undefined;

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

function keyText(text: string, start: number): string {
  const raw = text.slice(start).split("\n")[0] ?? "";
  return raw.replace(/\s*:.*$/, "").replace(/^["']|["']$/g, "").trim();
}

function firstLine(s: string): string {
  return s.split("\n")[0] ?? s;
}
