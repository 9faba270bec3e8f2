/**
 * The `hodei` package as pipeline authors import it from `.hodei/pipeline.ts`:
 * `definePipeline` (for editor completion; it returns its argument) and the types.
 */
import type { PipelineDefinition, TriggerContext } from "./pipeline-parser/types.js";

export type PipelineFactory = (ctx: TriggerContext) => PipelineDefinition | Promise<PipelineDefinition>;

export function definePipeline(pipeline: PipelineDefinition): PipelineDefinition;
export function definePipeline(pipeline: PipelineFactory): PipelineFactory;
export function definePipeline(pipeline: PipelineDefinition | PipelineFactory): PipelineDefinition | PipelineFactory {
  return pipeline;
}

export type {
  PipelineDefinition,
  TriggerContext,
  TriggerContext as PipelineContext,
  StageDefinition,
  StageDefaults,
  WhenClause,
  PushTrigger,
  PullRequestTrigger,
  ScheduleTrigger,
  ProviderName,
  TriggerEvent,
  Plan,
  PlannedStage,
  PlannedService,
  ServiceDefinition,
  ServiceReadiness,
  PlannedSchedule,
} from "./pipeline-parser/types.js";
