import type { PathSegment } from "./source-doc.js";

/**
 * `env` values and matrix values become strings; keep numbers as the author
 * wrote them (`1.10` stays "1.10", not "1.1"). `sourceOf` gives the written
 * text of the number at a path.
 */
export function keepNumbersAsWritten(value: unknown, sourceOf: (path: PathSegment[], n: number) => string | undefined): void {
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
      values.forEach((v, i) => {
        // include/exclude entries: mappings of keys to values.
        if (isRecord(v)) for (const k of Object.keys(v)) fix(["stages", name, "matrix", axis, i, k], v, k);
        else fix(["stages", name, "matrix", axis, i], values, i);
      });
    }
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
