import type { SourcePosition } from "./errors.js";

export type PathSegment = string | number;

/**
 * A parsed pipeline value plus a way back to where each part of it was
 * written. YAML sources locate nodes exactly; a `.hodei/pipeline.ts` result
 * locates them as well as a text search allows.
 */
export interface SourceDoc {
  /** Display name used in errors, e.g. `.hodei/pipeline.yml`. */
  file: string;
  value: unknown;
  /** Where the value at `path` (or, with target "key", its key) is written. */
  locate(path: readonly PathSegment[], target?: "key" | "value"): SourcePosition;
}

/** Decodes an ajv/JSON-pointer instance path into segments. */
export function pointerToPath(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}
