/**
 * The pipeline schema's validator, compiled by ajv at run time. The CLI
 * bundle (scripts/build-cli.mjs) swaps this module for the same validator
 * precompiled at build time with ajv's standalone code generation, from the
 * same schema and the same options (`newPipelineAjv`), so `hodei validate`
 * neither loads ajv's compiler nor compiles the schema at start-up.
 */
import Ajv2020Module from "ajv/dist/2020.js";
import type { CodeOptions, ValidateFunction } from "ajv";
import { loadPipelineSchema } from "./schema-source.js";

// ajv is CommonJS; under NodeNext its class is the `default` of the module object.
const Ajv2020 = Ajv2020Module.default;

/** The ajv instance the schema is compiled with, at run time or (with `code.source`) at build time. */
export function newPipelineAjv(code: CodeOptions = {}): InstanceType<typeof Ajv2020> {
  // verbose: errors carry their parentSchema, so unknown-key errors can list the allowed keys.
  return new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true, code });
}

let validator: ValidateFunction | undefined;

export function pipelineValidator(): ValidateFunction {
  validator ??= newPipelineAjv().compile(loadPipelineSchema());
  return validator;
}
