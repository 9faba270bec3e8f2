import posixPath from "node:path/posix";
import { cronProblem, DEFAULT_TIMEZONE, timezoneProblem } from "./cron.js";
import { parseDuration } from "./duration.js";
import { PipelineError } from "./errors.js";
import { globProblem } from "./globs.js";
import {
  expandMatrix,
  instanceId,
  matrixAxes,
  matrixKeys,
  matrixSize,
  MAX_MATRIX_INSTANCES,
  MAX_PIPELINE_INSTANCES,
  substitute,
  substitutionProblems,
} from "./matrix.js";
import { declarationProblems } from "./inputs.js";
import { AGENT_LABEL, runsOnList } from "./runs-on.js";
import { serviceProblems } from "./services.js";
import { MIN_CONTAINER_MEMORY, parseSize } from "./size.js";
import type { PathSegment, SourceDoc } from "./source-doc.js";
import { effectiveStage, stringsIn, SUBSTITUTED_KEYS } from "./stage-settings.js";
import { suggest } from "./suggest.js";
import { findCycles } from "./topo.js";
import type { PipelineDefinition, StageDefinition } from "./types.js";

/**
 * What was left out of a value that failed the schema (well-formed-part.ts),
 * so rules that would only echo a schema error (a `${{ matrix.KEY }}` of a
 * matrix that was left out) stay quiet.
 */
export interface Damage {
  damaged(path: readonly PathSegment[]): boolean;
  replaced(path: readonly PathSegment[]): boolean;
}

export const UNDAMAGED: Damage = { damaged: () => false, replaced: () => false };

/** Rules the schema cannot express. `def` has passed the schema (or is the well-formed part of a value that did not). */
export function checkSemantics(doc: SourceDoc, def: PipelineDefinition, damage: Damage): PipelineError[] {
  const errors: PipelineError[] = [];
  const report = (path: readonly PathSegment[], message: string, target: "key" | "value" = "value"): void => {
    errors.push(new PipelineError(doc.file, doc.locate(path, target), message));
  };
  const names = Object.keys(def.stages);
  checkNeeds(def, names, report);
  checkGlobs(def, report);
  checkDurations(def, report);
  checkSchedules(def, report);
  checkInputs(def, report);
  const inputs = damage.damaged(["on", "manual"]) ? null : Object.keys(def.on?.manual?.inputs ?? {});
  let instances = 0;
  for (const name of names) {
    const stage = def.stages[name] as StageDefinition;
    instances += stage.matrix ? matrixSize(stage.matrix) : 1;
    if (!damage.replaced(["stages", name])) checkStage(def, name, stage, report, damage, inputs);
  }
  if (instances > MAX_PIPELINE_INSTANCES) {
    report(["stages"], `the pipeline expands to ${instances} stage instances; the limit is ${MAX_PIPELINE_INSTANCES}`, "key");
  }
  return errors;
}

type Report = (path: readonly PathSegment[], message: string, target?: "key" | "value") => void;

function checkNeeds(def: PipelineDefinition, names: string[], report: Report): void {
  for (const name of names) {
    (def.stages[name]?.needs ?? []).forEach((need, i) => {
      if (need in def.stages) return;
      const hint = suggest(need, names);
      report(["stages", name, "needs", i], `stage ${JSON.stringify(name)} needs unknown stage ${JSON.stringify(need)}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ""}`);
    });
  }
  const needsOf = (n: string): readonly string[] => (def.stages[n]?.needs ?? []).filter((x) => x in def.stages);
  for (const cycle of findCycles(names, needsOf)) {
    const [first, second] = cycle;
    const i = def.stages[first ?? ""]?.needs?.indexOf(second ?? "") ?? -1;
    report(["stages", first ?? "", "needs", Math.max(0, i)], `dependency cycle: ${cycle.join(" -> ")}`);
  }
}

function checkGlobs(def: PipelineDefinition, report: Report): void {
  const lists: [PathSegment[], string[] | undefined][] = [];
  for (const event of ["push", "pull_request"] as const) {
    const filter = def.on?.[event];
    if (!filter) continue;
    for (const [key, list] of Object.entries(filter)) lists.push([["on", event, key], list as string[]]);
  }
  lists.push([["defaults", "artifacts"], def.defaults?.artifacts]);
  for (const [name, stage] of Object.entries(def.stages)) {
    lists.push([["stages", name, "artifacts"], stage.artifacts]);
    for (const key of ["branch", "tag", "paths"] as const) lists.push([["stages", name, "when", key], stage.when?.[key]]);
  }
  for (const [path, list] of lists) {
    (list ?? []).forEach((pattern, i) => {
      // Matrix expressions are checked (and replaced) per instance.
      const problem = globProblem(pattern.replace(/\$\{\{.*?\}\}/g, "x"));
      if (problem) report([...path, i], `invalid glob ${JSON.stringify(pattern)}: ${problem}`);
      else if (path.includes("artifacts") && escapes(pattern)) {
        report([...path, i], `artifact pattern ${JSON.stringify(pattern)} must stay inside the checkout`);
      }
    });
  }
}

function checkDurations(def: PipelineDefinition, report: Report): void {
  const timeouts: [PathSegment[], string | number | undefined][] = [[["defaults", "timeout"], def.defaults?.timeout]];
  for (const [name, stage] of Object.entries(def.stages)) timeouts.push([["stages", name, "timeout"], stage.timeout]);
  for (const [path, value] of timeouts) {
    if (value === undefined) continue;
    const seconds = parseDuration(value);
    if (seconds === null) report(path, `invalid duration ${JSON.stringify(value)}: use 90s, 10m, 1h30m or an integer number of seconds`);
    else if (seconds === 0) report(path, '"timeout" must be greater than zero');
  }
}

function checkSchedules(def: PipelineDefinition, report: Report): void {
  const seen = new Set<string>();
  (def.on?.schedule ?? []).forEach((s, i) => {
    const at = (key: string): PathSegment[] => ["on", "schedule", i, key];
    const cron = cronProblem(s.cron);
    if (cron) report(at("cron"), cron);
    const zone = s.timezone !== undefined ? timezoneProblem(s.timezone) : null;
    if (zone) report(at("timezone"), zone);
    const key = JSON.stringify([s.cron.trim().split(/\s+/), s.branch, s.timezone ?? DEFAULT_TIMEZONE]);
    if (seen.has(key)) report(["on", "schedule", i], `schedule ${JSON.stringify(s.cron)} of branch ${JSON.stringify(s.branch)} is listed twice`, "key");
    seen.add(key);
  });
}

function checkInputs(def: PipelineDefinition, report: Report): void {
  for (const [name, input] of Object.entries(def.on?.manual?.inputs ?? {})) {
    for (const p of declarationProblems(name, input)) report(["on", "manual", "inputs", name, ...(p.key in input ? [p.key] : [])], p.message, p.key in input ? "value" : "key");
  }
}

function checkStage(def: PipelineDefinition, name: string, stage: StageDefinition, report: Report, damage: Damage, inputs: readonly string[] | null): void {
  const at = (...rest: PathSegment[]): PathSegment[] => ["stages", name, ...rest];
  const quotedName = JSON.stringify(name);
  // Without its matrix, the stage's expressions and instances cannot be judged.
  if (damage.damaged(at("matrix"))) return;
  if (stage.when?.status !== undefined && (stage.needs ?? []).length === 0 && !damage.damaged(at("needs"))) {
    report(at("when", "status"), `"status" of stage ${quotedName} needs "needs": a stage that needs nothing has no outcome to run on`, "key");
  }
  for (const key of ["fail-fast", "max-parallel"] as const) {
    if (stage[key] !== undefined && !stage.matrix) report(at(key), `${JSON.stringify(key)} applies only to a stage with a matrix`, "key");
  }
  if (stage.matrix && !checkMatrix(name, stage.matrix, report)) return;
  const effective = effectiveStage(def, stage);
  const keys = stage.matrix ? matrixKeys(stage.matrix) : null;
  for (const key of SUBSTITUTED_KEYS) {
    for (const { path, text } of stringsIn(effective[key])) {
      for (const problem of substitutionProblems(text, keys, inputs)) {
        const origin = originOf(def, name, key, path);
        report(origin, origin[0] === "stages" ? problem : `${problem} (inherited by stage ${quotedName})`);
      }
    }
  }
  const provider = effective.provider ?? "local";
  const dropped = [at("provider"), at("image"), ["defaults", "provider"], ["defaults", "image"]].some((p) => damage.damaged(p));
  if ((provider === "docker" || provider === "kubernetes") && effective.image === undefined && !dropped) {
    const path = stage.provider !== undefined ? at("provider") : at();
    report(path, `stage ${quotedName} runs on provider "${provider}" and needs an "image"`, stage.provider !== undefined ? "value" : "key");
  }
  if (effective.resources !== undefined) {
    const origin = originOf(def, name, "resources", []);
    // From `defaults`, it applies to the stages it can apply to.
    if (provider === "local" && stage.resources !== undefined) {
      report(origin, `stage ${quotedName} runs on provider "local": "resources" apply to docker and kubernetes stages only`, "key");
    }
    const memory = effective.resources.memory;
    if (memory !== undefined) {
      const bytes = parseSize(memory);
      if (bytes === null) report([...origin, "memory"], `memory ${JSON.stringify(memory)} is not a size like 512m or 2g`);
      else if (bytes < MIN_CONTAINER_MEMORY) report([...origin, "memory"], `memory ${JSON.stringify(memory)} is below the minimum of 6m`);
    }
  }
  const runsOn = effective["runs-on"];
  if (runsOn !== undefined) {
    const origin = originOf(def, name, "runs-on", []);
    if (provider !== "local" && stage["runs-on"] !== undefined) {
      report(origin, `stage ${quotedName} runs on provider "${provider}": "runs-on" picks among agents, so it applies to local stages only`, "key");
    }
    const combos = stage.matrix ? expandMatrix(stage.matrix) : [null];
    runsOnList(runsOn).forEach((label, i) => {
      const at = typeof runsOn === "string" ? origin : [...origin, i];
      if (INPUT_EXPRESSION.test(label)) return report(at, NOT_FROM_INPUTS("runs-on"));
      const bad = combos.map((c) => substitute(label, c)).find((l) => !AGENT_LABEL.test(l));
      if (bad !== undefined) report(at, `runs-on label ${JSON.stringify(bad)} is not KEY or KEY=VALUE (KEY: letters, digits, _ . / -; VALUE: no spaces)`);
    });
  }
  if (effective.services !== undefined && Object.keys(effective.services).length > 0) checkServices(def, name, stage, provider, report);
  if (effective.workdir !== undefined) {
    const origin = originOf(def, name, "workdir", []);
    if (INPUT_EXPRESSION.test(effective.workdir)) return report(origin, NOT_FROM_INPUTS("workdir"));
    const combos = stage.matrix ? expandMatrix(stage.matrix) : [null];
    const bad = combos.map((c) => substitute(effective.workdir ?? ".", c)).find((w) => escapes(w));
    if (bad !== undefined) report(origin, `workdir ${JSON.stringify(bad)} must be a relative path inside the checkout`);
  }
}

/** Where a stage runs is decided by the file, not by what a person types when starting a run (secret names admit no expression at all: the schema). */
const INPUT_EXPRESSION = /\$\{\{\s*inputs\./;
const NOT_FROM_INPUTS = (key: string) => `\${{ inputs.NAME }} is not substituted in "${key}": where a stage runs comes from the file, not from a run's inputs`;

/** The Pod's own container names (src/providers/kubernetes-manifests.ts); the parser does not import the providers. */
const KUBERNETES_RESERVED = ["agent", "hodei-agent"] as const;

function checkServices(def: PipelineDefinition, name: string, stage: StageDefinition, provider: string, report: Report): void {
  const quotedName = JSON.stringify(name);
  const own = stage.services !== undefined;
  const origin = originOf(def, name, "services", []);
  // From `defaults`, services apply to the stages they can apply to (as resources do); a local stage's own are an error.
  if (provider === "local") {
    if (own) report(origin, `stage ${quotedName} runs on provider "local": "services" run beside docker and kubernetes stages only (add provider: docker and an image)`, "key");
    return;
  }
  // The defaults' services are checked for every stage inheriting them; the same error at the same place is reported once (sortErrors).
  for (const [service, definition] of Object.entries((own ? stage.services : def.defaults?.services) ?? {})) {
    for (const [path, message, target] of serviceProblems(service, definition)) report([...origin, service, ...path], message, target);
    // A Pod's containers have distinct names, and a service's container is named as the service.
    if (provider === "kubernetes" && (KUBERNETES_RESERVED as readonly string[]).includes(service)) {
      report([...origin, service], `service name ${JSON.stringify(service)} is taken on kubernetes by the stage's own container (stage ${quotedName}): choose another`, "key");
    }
  }
}

/** The rules of a matrix beyond its shape; false when its instances cannot be judged further. */
function checkMatrix(name: string, matrix: NonNullable<StageDefinition["matrix"]>, report: Report): boolean {
  const at = (...rest: PathSegment[]): PathSegment[] => ["stages", name, "matrix", ...rest];
  const quotedName = JSON.stringify(name);
  const axes = matrixAxes(matrix);
  for (const [axis, values] of axes) {
    const seen = new Set<string>();
    values.forEach((v, i) => {
      if (seen.has(String(v))) report(at(axis, i), `duplicate value ${JSON.stringify(String(v))} in matrix axis ${JSON.stringify(axis)}`);
      seen.add(String(v));
    });
  }
  // An exclude entry names axes; one that matches no combination is fine (axes may depend on the trigger in a .ts pipeline).
  const axisNames = axes.map(([a]) => a);
  let ok = true;
  (matrix.exclude ?? []).forEach((entry, i) => {
    for (const key of Object.keys(entry)) {
      if (axisNames.includes(key)) continue;
      const hint = suggest(key, axisNames);
      const known = axisNames.length > 0 ? `matrix axes: ${axisNames.join(", ")}` : "the matrix has no axes";
      report(at("exclude", i, key), `unknown matrix axis ${JSON.stringify(key)} in "exclude" of stage ${quotedName} (${hint ? `did you mean ${JSON.stringify(hint)}? ` : ""}${known})`, "key");
      ok = false;
    }
  });
  if (!ok) return false;
  const size = matrixSize(matrix);
  if (size > MAX_MATRIX_INSTANCES) {
    report(at(), `the matrix of stage ${quotedName} expands to ${size} instances; the limit is ${MAX_MATRIX_INSTANCES}`, "key");
    return false;
  }
  const combos = expandMatrix(matrix);
  if (combos.length === 0) {
    report(at(), `the matrix of stage ${quotedName} expands to no instances: "exclude" leaves out every combination`, "key");
    return false;
  }
  // Include entries that add a combination of their own must not add the same one twice.
  const ids = new Set<string>();
  const duplicates = combos.map((c) => instanceId(name, c)).filter((id) => (ids.has(id) ? true : (ids.add(id), false)));
  for (const id of new Set(duplicates)) {
    const combo = combos.find((c) => instanceId(name, c) === id) ?? {};
    const last = (matrix.include ?? []).map((e, i) => ({ e, i })).filter(({ e }) => instanceId(name, toCombo(e)) === id).at(-1);
    report(at(...(last ? ["include", last.i] : [])), `the matrix of stage ${quotedName} has the combination ${JSON.stringify(combo)} twice`, last ? "value" : "key");
    ok = false;
  }
  return ok;
}

function toCombo(entry: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(entry).map(([k, v]) => [k, String(v)]));
}

/** Where an effective stage value came from: the stage, `defaults`, or the pipeline's `env`. */
function originOf(def: PipelineDefinition, name: string, key: string, path: PathSegment[]): PathSegment[] {
  const stage = def.stages[name] as StageDefinition;
  if (key === "env") {
    const envKey = String(path[0]);
    if (stage.env && envKey in stage.env) return ["stages", name, "env", ...path];
    if (def.defaults?.env && envKey in def.defaults.env) return ["defaults", "env", ...path];
    return ["env", ...path];
  }
  return stage[key as keyof StageDefinition] !== undefined ? ["stages", name, key, ...path] : ["defaults", key, ...path];
}

/** True for absolute paths and paths that leave the checkout (`..`). */
function escapes(p: string): boolean {
  if (p.startsWith("/") || p.startsWith("\\") || /^[A-Za-z]:/.test(p) || p.includes("\0")) return true;
  const normal = posixPath.normalize(p.replace(/\\/g, "/"));
  return normal === ".." || normal.startsWith("../");
}
