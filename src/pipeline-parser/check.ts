import { PipelineError, sortErrors } from "./errors.js";
import { translateSchemaErrors } from "./schema-errors.js";
import { schemaErrors } from "./schema.js";
import { checkSemantics, UNDAMAGED } from "./semantic.js";
import type { SourceDoc } from "./source-doc.js";
import type { PipelineDefinition } from "./types.js";
import { wellFormedPart } from "./well-formed-part.js";

export type CheckResult = { ok: true; definition: PipelineDefinition } | { ok: false; errors: PipelineError[] };

/**
 * The schema and the semantic rules, every error of both at once. The
 * semantic rules rely on the schema's shape, so on a value that fails the
 * schema they check its well-formed part (well-formed-part.ts): what the
 * schema rejected is left out and reported by the schema alone.
 */
export function checkDefinition(doc: SourceDoc): CheckResult {
  const raw = schemaErrors(doc.value);
  if (raw.length === 0) {
    const definition = doc.value as PipelineDefinition;
    const errors = checkSemantics(doc, definition, UNDAMAGED);
    return errors.length > 0 ? { ok: false, errors: sortErrors(errors) } : { ok: true, definition };
  }
  const errors = translateSchemaErrors(doc, raw);
  const part = wellFormedPart(doc, raw);
  if (part) errors.push(...checkSemantics(part.doc, part.definition, part));
  return { ok: false, errors: sortErrors(errors) };
}
