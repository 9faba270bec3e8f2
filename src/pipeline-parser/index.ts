export { PipelineError, type SourcePosition } from "./errors.js";
export {
  DEFAULT_CONTEXT,
  definitionFor,
  loadPipeline,
  planPipeline,
  planPipelineSource,
  validatePipeline,
  validatePipelineSource,
  type LoadResult,
  type PlanResult,
  type ValidationResult,
} from "./load.js";
export { buildPlan } from "./planner.js";
export { checkDefinition, type CheckResult } from "./check.js";
export { PIPELINE_FILES, readPipelineSource, type PipelineKind, type PipelineSource } from "./source-file.js";
export { pipelineSchemaUrl } from "./schema.js";
export type * from "./types.js";
