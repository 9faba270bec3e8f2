import type { ErrorObject } from "ajv";
import { pipelineValidator } from "./schema-validator.js";

export { loadPipelineSchema, pipelineSchemaUrl } from "./schema-source.js";

/** Validates a plain value against the pipeline schema; returns ajv's raw errors. */
export function schemaErrors(value: unknown): ErrorObject[] {
  const validator = pipelineValidator();
  return validator(value) ? [] : [...(validator.errors ?? [])];
}
