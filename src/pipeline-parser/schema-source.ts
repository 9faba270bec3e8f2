import { readFileSync } from "node:fs";

/** The pipeline JSON Schema (draft 2020-12): `schemas/pipeline.schema.json`, the single source of truth. */
export const pipelineSchemaUrl = new URL("../../schemas/pipeline.schema.json", import.meta.url);

export function loadPipelineSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(pipelineSchemaUrl, "utf8")) as Record<string, unknown>;
}
