import type { PipelineDefinition, StageDefaults, StageDefinition } from "./types.js";

/** Keys a stage may inherit from `defaults`; a stage's own value replaces the default, except `env`, merged per key. */
export const INHERITED_KEYS = [
  "provider",
  "image",
  "timeout",
  "retries",
  "env",
  "secrets",
  "artifacts",
  "allow_failure",
  "workdir",
  "resources",
  "runs-on",
  "services",
] as const satisfies readonly (keyof StageDefaults)[];

/** Keys whose string values get `${{ matrix.KEY }}` substituted. */
export const SUBSTITUTED_KEYS = ["run", "image", "env", "secrets", "artifacts", "workdir", "runs-on", "services"] as const;
export type SubstitutedKey = (typeof SUBSTITUTED_KEYS)[number];

/** The stage with defaults applied (env: pipeline env < defaults env < stage env). */
export function effectiveStage(def: PipelineDefinition, stage: StageDefinition): StageDefinition {
  const merged: StageDefinition = { ...def.defaults, ...stage };
  merged.env = { ...def.env, ...def.defaults?.env, ...stage.env };
  return merged;
}

/** Where a key of the effective stage was written: the stage itself or `defaults`. */
export function keyOrigin(stage: StageDefinition, key: keyof StageDefinition): "stage" | "defaults" {
  return stage[key] !== undefined ? "stage" : "defaults";
}

/** Every string under `value` with its path (relative to `value`). */
export function stringsIn(value: unknown, path: (string | number)[] = []): { path: (string | number)[]; text: string }[] {
  if (typeof value === "string") return [{ path, text: value }];
  if (Array.isArray(value)) return value.flatMap((v, i) => stringsIn(v, [...path, i]));
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).flatMap(([k, v]) => stringsIn(v, [...path, k]));
  }
  return [];
}
