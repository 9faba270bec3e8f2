import { checkDefinition, type CheckResult } from "./check.js";
import type { PipelineError } from "./errors.js";
import { buildPlan } from "./planner.js";
import { readPipelineSource, type PipelineKind, type PipelineSource } from "./source-file.js";
import type { Plan, PipelineDefinition, TriggerContext } from "./types.js";
import { parseYamlSource } from "./yaml-source.js";

export type LoadResult =
  | { ok: true; file: string; kind: "yaml"; definition: PipelineDefinition }
  | { ok: true; file: string; kind: "ts"; definition: PipelineSource }
  | { ok: false; errors: PipelineError[] };

export type PlanResult = { ok: true; file: string; plan: Plan } | { ok: false; errors: PipelineError[] };

export interface ValidationResult {
  /** The pipeline file, or the path given when none was found. */
  file: string;
  errors: PipelineError[];
}

/** The context used to validate a `.ts` pipeline when no trigger is given: a push to main. */
export const DEFAULT_CONTEXT: TriggerContext = {
  event: "push",
  branch: "main",
  tag: null,
  sha: "0000000000000000000000000000000000000000",
  changedFiles: null,
  repo: { owner: "owner", name: "repo" },
  pullRequest: null,
};

/**
 * Finds and reads the pipeline of a repository directory or a pipeline file.
 * A YAML pipeline comes back checked; a TS pipeline depends on the trigger,
 * so it comes back as its source, for `definitionFor(source, ctx)`.
 */
export async function loadPipeline(pathOrDir: string, options: { cwd?: string } = {}): Promise<LoadResult> {
  const read = await readPipelineSource(pathOrDir, options.cwd);
  if (!read.ok) return read;
  const { source } = read;
  if (source.kind === "ts") return { ok: true, file: source.file, kind: "ts", definition: source };
  const checked = await definitionFor(source, DEFAULT_CONTEXT);
  return checked.ok ? { ok: true, file: source.file, kind: "yaml", definition: checked.definition } : checked;
}

/** The checked definition of an in-memory source for one trigger context. */
export async function definitionFor(source: PipelineSource, ctx: TriggerContext): Promise<CheckResult> {
  const parsed = source.kind === "yaml" ? await parseYamlSource(source.file, source.text) : await (await tsSource()).evaluateTsPipeline(source, ctx);
  if (!parsed.ok) return parsed;
  return checkDefinition(parsed.doc);
}

/** Plans an in-memory pipeline (e.g. read from a commit) for `ctx`. */
export async function planPipelineSource(source: PipelineSource, ctx: TriggerContext): Promise<PlanResult> {
  const checked = await definitionFor(source, ctx);
  if (!checked.ok) return checked;
  return { ok: true, file: source.file, plan: buildPlan(checked.definition, ctx) };
}

/** Plans the pipeline of a repository directory or pipeline file for `ctx`. */
export async function planPipeline(pathOrDir: string, ctx: TriggerContext, options: { cwd?: string } = {}): Promise<PlanResult> {
  const read = await readPipelineSource(pathOrDir, options.cwd);
  if (!read.ok) return read;
  return planPipelineSource(read.source, ctx);
}

/** Every error of an in-memory pipeline; a `.ts` pipeline is evaluated for `ctx` (default: a push to main). */
export async function validatePipelineSource(source: PipelineSource, ctx: TriggerContext = DEFAULT_CONTEXT): Promise<ValidationResult> {
  const checked = await definitionFor(source, ctx);
  return { file: source.file, errors: checked.ok ? [] : checked.errors };
}

/** Every error of the pipeline of a repository directory or pipeline file. */
export async function validatePipeline(pathOrDir: string, ctx: TriggerContext = DEFAULT_CONTEXT, options: { cwd?: string } = {}): Promise<ValidationResult> {
  const read = await readPipelineSource(pathOrDir, options.cwd);
  if (!read.ok) return { file: read.errors[0]?.file ?? pathOrDir, errors: read.errors };
  return validatePipelineSource(read.source, ctx);
}

export type { PipelineKind, PipelineSource };

/** The TypeScript path (esbuild, QuickJS) is loaded only for a .ts pipeline: a YAML validate starts faster. */
function tsSource(): Promise<typeof import("./ts-source.js")> {
  return import("./ts-source.js");
}
