import { DEFAULT_TIMEZONE } from "./cron.js";
import { DEFAULT_TIMEOUT_SECONDS, parseDuration } from "./duration.js";
import { inputEnvName, resolveInputs } from "./inputs.js";
import { expandMatrix, instanceId, substitute, type MatrixCombo } from "./matrix.js";
import { runsOnList } from "./runs-on.js";
import { planServices } from "./services.js";
import { parseSize } from "./size.js";
import { effectiveStage } from "./stage-settings.js";
import { topologicalOrder } from "./topo.js";
import { isTriggered, whenMatches } from "./triggers.js";
import type { Plan, PlannedSchedule, PlannedStage, PipelineDefinition, StageDefinition, TriggerContext } from "./types.js";

/**
 * The expanded DAG for one trigger context. `def` must have passed
 * `checkDefinition` (schema and semantic rules); this function does not re-check.
 */
export function buildPlan(def: PipelineDefinition, ctx: TriggerContext): Plan {
  const name = def.name ?? "pipeline";
  const schedules: PlannedSchedule[] = (def.on?.schedule ?? []).map((s) => ({ cron: s.cron, branch: s.branch, timezone: s.timezone ?? DEFAULT_TIMEZONE }));
  // Only a manual run is given inputs and has them checked; other events see the defaults.
  const { values: inputs, problems: inputProblems } = resolveInputs(def.on?.manual?.inputs ?? undefined, ctx.event === "manual" ? (ctx.inputs ?? {}) : undefined);
  if (!isTriggered(def.on, ctx)) return { name, triggered: false, stages: [], schedules, inputs, inputProblems };
  const idsByName = new Map<string, string[]>();
  const instances: PlannedStage[] = [];
  for (const [stageName, stage] of Object.entries(def.stages)) {
    const combos: (MatrixCombo | null)[] = stage.matrix ? expandMatrix(stage.matrix) : [null];
    const planned = combos.map((combo) => planInstance(def, stageName, stage, combo, inputs));
    idsByName.set(stageName, planned.map((p) => p.id));
    instances.push(...planned);
  }
  for (const instance of instances) {
    const stage = def.stages[instance.name] as StageDefinition;
    instance.needs = (stage.needs ?? []).flatMap((n) => idsByName.get(n) ?? []);
  }
  const ordered = topologicalOrder(instances);
  if (!ordered) throw new Error("buildPlan: dependency cycle in a definition that was not checked");
  // Skips propagate forward, so one pass in topological order settles them.
  const skipped = new Set<string>();
  for (const instance of ordered) {
    const stage = def.stages[instance.name] as StageDefinition;
    // A stage that runs on the outcome of its needs (when.status) is not skipped with them here:
    // whether it runs is known only when they end (src/saga/outcome-rule.ts).
    const onOutcome = stage.when?.status !== undefined;
    instance.skip = !whenMatches(stage.when, ctx) || (!onOutcome && instance.needs.some((id) => skipped.has(id)));
    if (instance.skip) skipped.add(instance.id);
  }
  return { name, triggered: true, stages: ordered, schedules, inputs, inputProblems };
}

function planInstance(def: PipelineDefinition, name: string, stage: StageDefinition, combo: MatrixCombo | null, inputs: Record<string, string>): PlannedStage {
  const s = effectiveStage(def, stage);
  const sub = (text: string): string => substitute(text, combo, inputs);
  // Inputs as variables first, so a command can quote them ("$HODEI_INPUT_VERSION") instead of pasting text into the script; the stage's env may override.
  const env: Record<string, string> = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [inputEnvName(k), v]));
  for (const [k, v] of Object.entries(s.env ?? {})) env[k] = typeof v === "string" ? sub(v) : String(v);
  return {
    id: instanceId(name, combo),
    name,
    matrix: combo,
    needs: [],
    skip: false,
    provider: s.provider ?? "local",
    image: s.image !== undefined ? sub(s.image) : null,
    commands: (typeof s.run === "string" ? [s.run] : s.run).map(sub),
    env,
    secrets: (s.secrets ?? []).map(sub),
    artifacts: (s.artifacts ?? []).map(sub),
    timeoutSeconds: s.timeout !== undefined ? (parseDuration(s.timeout) ?? DEFAULT_TIMEOUT_SECONDS) : DEFAULT_TIMEOUT_SECONDS,
    retries: s.retries ?? 0,
    allowFailure: s.allow_failure ?? false,
    workdir: s.workdir !== undefined ? sub(s.workdir) : ".",
    resources: s.resources && s.provider !== undefined && s.provider !== "local"
      ? { cpus: s.resources.cpus ?? null, memoryBytes: s.resources.memory !== undefined ? parseSize(s.resources.memory) : null }
      : null,
    runsOn: (s.provider ?? "local") === "local" ? runsOnList(s["runs-on"]).map(sub) : [],
    ...(s.services && s.provider !== undefined && s.provider !== "local" && Object.keys(s.services).length > 0 ? { services: planServices(s.services, sub) } : {}),
    ...(stage.when?.status !== undefined ? { status: stage.when.status } : {}),
    ...(combo && stage["fail-fast"] === true ? { failFast: true } : {}),
    ...(combo && stage["max-parallel"] !== undefined ? { maxParallel: stage["max-parallel"] } : {}),
  };
}
