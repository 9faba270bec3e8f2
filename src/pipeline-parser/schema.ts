import { readFileSync } from "node:fs";
import Ajv2020Module from "ajv/dist/2020.js";
import type { ErrorObject, ValidateFunction } from "ajv";

/** The pipeline JSON Schema (draft 2020-12): `schemas/pipeline.schema.json`. */
export const pipelineSchemaUrl = new URL("../../schemas/pipeline.schema.json", import.meta.url);

let validator: ValidateFunction | undefined;

export function loadPipelineSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(pipelineSchemaUrl, "utf8")) as Record<string, unknown>;
}

// ajv is CommonJS; under NodeNext its class is the `default` of the module object.
const Ajv2020 = Ajv2020Module.default;

function compile(): ValidateFunction {
  // verbose: errors carry their parentSchema, so unknown-key errors can list the allowed keys.
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
  return ajv.compile(loadPipelineSchema());
}

/** Validates a plain value against the pipeline schema; returns ajv's raw errors. */
export function schemaErrors(value: unknown): ErrorObject[] {
  validator ??= compile();
  return validator(value) ? [] : [...(validator.errors ?? [])];
}
