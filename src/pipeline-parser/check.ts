import { PipelineError, sortErrors } from "./errors.js";
import { translateSchemaErrors } from "./schema-errors.js";
import { schemaErrors } from "./schema.js";
import { checkSemantics } from "./semantic.js";
import type { SourceDoc } from "./source-doc.js";
import type { PipelineDefinition } from "./types.js";

export type CheckResult = { ok: true; definition: PipelineDefinition } | { ok: false; errors: PipelineError[] };

/**
 * Schema first, then the semantic rules. Semantic rules run only on a value
 * that satisfies the schema, so they can rely on its shape; every error of
 * a phase is reported at once.
 */
export function checkDefinition(doc: SourceDoc): CheckResult {
  const raw = schemaErrors(doc.value);
  if (raw.length > 0) return { ok: false, errors: sortErrors(translateSchemaErrors(doc, raw)) };
  const definition = doc.value as PipelineDefinition;
  const errors = checkSemantics(doc, definition);
  if (errors.length > 0) return { ok: false, errors: sortErrors(errors) };
  return { ok: true, definition };
}
