/**
 * The pipeline model shared by the parser, the planner and the engine.
 *
 * `PipelineDefinition` is what authors write (YAML or the value a
 * `.hodei/pipeline.ts` returns), after schema validation. `Plan` is the
 * expanded DAG for one trigger context: the shape `hodei plan --json` prints
 * (SPEC section 2) and the input of a run.
 */

export type ProviderName = "local" | "docker" | "kubernetes";
export type TriggerEvent = "push" | "pull_request" | "manual";

export interface StageDefaults {
  provider?: ProviderName;
  image?: string;
  timeout?: string | number;
  retries?: number;
  env?: Record<string, string | number | boolean>;
  secrets?: string[];
  artifacts?: string[];
  allow_failure?: boolean;
  workdir?: string;
  resources?: { cpus?: number; memory?: string | number };
  "runs-on"?: string | string[];
}

export interface WhenClause {
  event?: TriggerEvent[];
  branch?: string[];
  tag?: string[];
  paths?: string[];
}

export interface StageDefinition extends StageDefaults {
  run: string | string[];
  needs?: string[];
  matrix?: Record<string, (string | number | boolean)[]>;
  when?: WhenClause;
}

export interface PushTrigger {
  branches?: string[];
  tags?: string[];
  paths?: string[];
  "paths-ignore"?: string[];
}

export interface PullRequestTrigger {
  branches?: string[];
  paths?: string[];
  "paths-ignore"?: string[];
}

export interface PipelineDefinition {
  name?: string;
  on?: { push?: PushTrigger | null; pull_request?: PullRequestTrigger | null; manual?: null | Record<string, never> };
  env?: Record<string, string | number | boolean>;
  defaults?: StageDefaults;
  stages: Record<string, StageDefinition>;
}

/** What a run was triggered by; `ctx` of `.hodei/pipeline.ts` has the same fields. */
export interface TriggerContext {
  event: TriggerEvent;
  branch: string | null;
  tag: string | null;
  sha: string;
  /** null means "unknown: treat every file as changed". */
  changedFiles: string[] | null;
  repo: { owner: string; name: string };
  pullRequest: { number: number; baseBranch: string } | null;
}

export interface PlannedStage {
  /** Instance id: `test[node=18,db=pg]` for a matrix instance, else the stage name. */
  id: string;
  name: string;
  matrix: Record<string, string> | null;
  /** Instance ids. */
  needs: string[];
  skip: boolean;
  provider: ProviderName;
  image: string | null;
  commands: string[];
  env: Record<string, string>;
  secrets: string[];
  artifacts: string[];
  timeoutSeconds: number;
  retries: number;
  allowFailure: boolean;
  workdir: string;
  /** Limits of the stage's container (docker, kubernetes); null or absent: the server's defaults. */
  resources?: { cpus: number | null; memoryBytes: number | null } | null;
  /** Agent labels the stage needs (`gpu`, `arch=arm64`); absent in runs planned before runs-on existed. */
  runsOn?: string[];
}

export interface Plan {
  name: string;
  triggered: boolean;
  /** Topological order; ties keep file order, then matrix order. */
  stages: PlannedStage[];
}
