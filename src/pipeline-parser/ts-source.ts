import { SourceMap, type SourceMapPayload } from "node:module";
import { PipelineError, type SourcePosition } from "./errors.js";
import type { PathSegment, SourceDoc } from "./source-doc.js";
import type { PipelineSource } from "./source-file.js";
import { bundlePipeline } from "./ts-bundle.js";
import { BUNDLE_FILENAME, DEFAULT_LIMITS, newSandboxModule, runInSandbox, type SandboxLimits } from "./ts-sandbox.js";
import type { TriggerContext } from "./types.js";

export type TsEvaluation = { ok: true; doc: SourceDoc } | { ok: false; errors: PipelineError[] };

/**
 * Bundles and runs a `.hodei/pipeline.ts` for `ctx`. The plain JSON result is
 * returned as a SourceDoc, to be checked like a YAML file.
 */
export async function evaluateTsPipeline(source: PipelineSource, ctx: TriggerContext, limits: SandboxLimits = DEFAULT_LIMITS): Promise<TsEvaluation> {
  const readModule = source.readModule ?? (() => Promise.resolve(null));
  // The sandbox's WASM module loads while esbuild bundles (in its own process).
  const module = newSandboxModule(limits);
  // Not awaited when bundling fails: keep that rejection (if any) from going unhandled.
  module.catch(() => undefined);
  const bundled = await bundlePipeline(source.file, source.text, readModule);
  if (!bundled.ok) return bundled;
  const result = await runInSandbox(bundled.bundle.code, ctx, limits, module);
  if (!result.ok) {
    const where = (result.failure.stack && originalPosition(bundled.bundle.map, result.failure.stack)) || {
      file: source.file,
      line: 1,
      column: 1,
    };
    return { ok: false, errors: [new PipelineError(where.file, where, result.failure.message)] };
  }
  return { ok: true, doc: { file: source.file, value: result.value, locate: textLocator(source.text) } };
}

/** The original position of the innermost bundle frame of a QuickJS stack. */
function originalPosition(mapJson: string, stack: string): (SourcePosition & { file: string }) | null {
  const frame = new RegExp(`${BUNDLE_FILENAME.replace(/\./g, "\\.")}:(\\d+)(?::(\\d+))?`).exec(stack);
  if (!frame) return null;
  const line = Number(frame[1]);
  const column = Number(frame[2] ?? 1);
  const map = new SourceMap(JSON.parse(mapJson) as SourceMapPayload);
  const entry = map.findEntry(line - 1, Math.max(0, column - 1)) as Partial<{
    originalSource: string;
    originalLine: number;
    originalColumn: number;
  }>;
  if (entry.originalSource === undefined || entry.originalLine === undefined) return null;
  // Node resolves sources to file URLs relative to the (virtual) bundle; keep the display path.
  const sources = (JSON.parse(mapJson) as { sources: string[] }).sources;
  const file = sources.find((s) => entry.originalSource === s || entry.originalSource?.endsWith(`/${s.replace(/^(\.\.?\/)+/, "")}`)) ?? entry.originalSource;
  return { file, line: entry.originalLine + 1, column: (entry.originalColumn ?? 0) + 1 };
}

/**
 * A TS result has no node positions; point at the key in the entry file
 * when its name occurs there exactly once, else at 1:1.
 */
function textLocator(text: string): SourceDoc["locate"] {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === "\n") lineStarts.push(i + 1);
  const positionOf = (offset: number): SourcePosition => {
    let line = 0;
    while (line + 1 < lineStarts.length && (lineStarts[line + 1] ?? Infinity) <= offset) line++;
    return { line: line + 1, column: offset - (lineStarts[line] ?? 0) + 1 };
  };
  return (path: readonly PathSegment[]) => {
    for (let i = path.length - 1; i >= 0; i--) {
      const seg = path[i];
      if (typeof seg !== "string" || /^\d+$/.test(seg)) continue;
      const escaped = seg.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
      const matches = [...text.matchAll(new RegExp(`(?<![\\w$-])(["']?)${escaped}\\1\\s*:`, "g"))];
      if (matches.length === 1 && matches[0]?.index !== undefined) return positionOf(matches[0].index);
    }
    return { line: 1, column: 1 };
  };
}
