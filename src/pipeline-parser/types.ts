/**
 * The pipeline model shared by the parser, the planner and the engine.
 *
 * `PipelineDefinition` is what authors write (YAML or the value a
 * `.hodei/pipeline.ts` returns), after schema validation. `Plan` is the
 * expanded DAG for one trigger context: the shape `hodei plan --json` prints
 * (SPEC section 2) and the input of a run.
 */

export type ProviderName = "local" | "docker" | "kubernetes";
export type TriggerEvent = "push" | "pull_request" | "manual" | "schedule";

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
  /** Containers started beside a docker (or kubernetes) stage, reachable by their name; see services.ts. */
  services?: Record<string, ServiceDefinition>;
}

/** One service as written: `services: { NAME: { image, env, command, ports, ready } }`. */
export interface ServiceDefinition {
  image: string;
  env?: Record<string, string | number | boolean>;
  /** The container's command (the image's entrypoint gets it): a list of arguments, or a string split into words as a shell would. */
  command?: string | string[];
  /** Ports the service listens on; without `ready`, the first one accepting connections makes it ready. */
  ports?: number[];
  ready?: ServiceReadiness;
}

/** When a service is ready: a command in its container exits 0 (`command`), or its `port` accepts connections; within `timeout` (default 60s). */
export interface ServiceReadiness {
  command?: string | string[];
  port?: number;
  timeout?: string | number;
}

/** What a stage's needs must have ended for it to run: `when.status` (default `["success"]`). */
export type WhenStatus = "always" | ("success" | "failure")[];

export interface WhenClause {
  event?: TriggerEvent[];
  branch?: string[];
  tag?: string[];
  paths?: string[];
  status?: WhenStatus;
}

export type MatrixValue = string | number | boolean;
/** One combination, or part of one, in a matrix's `include` or `exclude`. */
export type MatrixEntry = Record<string, MatrixValue>;

/**
 * Axes (key = axis, value = its values) plus the reserved `include` (extra
 * combinations, or extra keys for matching ones) and `exclude` (combinations
 * left out of the product).
 */
export interface MatrixDefinition {
  [axis: string]: MatrixValue[] | MatrixEntry[] | undefined;
  include?: MatrixEntry[];
  exclude?: MatrixEntry[];
}

export interface StageDefinition extends StageDefaults {
  run: string | string[];
  needs?: string[];
  matrix?: MatrixDefinition;
  /** Matrix stages only: once an instance fails, the other instances are cancelled (running ones stopped). Default false. */
  "fail-fast"?: boolean;
  /** Matrix stages only: at most this many instances run at once. */
  "max-parallel"?: number;
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

/** One entry of `on.schedule`: a cron schedule of one branch. */
export interface ScheduleTrigger {
  /** Five fields: minute hour day-of-month month day-of-week. */
  cron: string;
  /** The branch whose head is run; only the pipeline file on that branch's head records the schedule. */
  branch: string;
  /** IANA time zone the cron fields are read in; default UTC. */
  timezone?: string;
}

/** One of `on.manual.inputs`: a typed value given when a run is started by hand. */
export interface InputDefinition {
  /** Default `string`. */
  type?: "string" | "number" | "boolean" | "choice";
  description?: string;
  required?: boolean;
  default?: string | number | boolean;
  /** The values of a `choice`. */
  options?: string[];
}

export interface PipelineDefinition {
  name?: string;
  on?: {
    push?: PushTrigger | null;
    pull_request?: PullRequestTrigger | null;
    manual?: null | { inputs?: Record<string, InputDefinition> };
    schedule?: ScheduleTrigger[];
  };
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
  /** What a manual run was started with (`POST /api/runs` `inputs`), before checking; other events: none. */
  inputs?: Record<string, string | number | boolean>;
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
  /** Set only on stages with services (docker, kubernetes): what is started beside the stage, in declared order. */
  services?: PlannedService[];
  /** Set only on stages with `when.status`: what their needs must have ended for them to run. */
  status?: WhenStatus;
  /** Set (true) only on the instances of a matrix stage with `fail-fast: true`. */
  failFast?: boolean;
  /** Set only on the instances of a matrix stage with `max-parallel`: at most this many of them run at once. */
  maxParallel?: number;
}

export interface PlannedService {
  /** Its host name from the stage's commands (a DNS label). */
  name: string;
  image: string;
  env: Record<string, string>;
  /** The container's command, as arguments; null: the image's own. */
  command: string[] | null;
  ports: number[];
  /** A command run in the service's container until it exits 0 (a string `ready.command` is run with `sh -c`), or a port to connect to; null: ready once started. */
  ready: { command: string[] } | { port: number } | null;
  readyTimeoutSeconds: number;
}

/** A schedule as `hodei plan --json` shows it and the server records it. */
export interface PlannedSchedule {
  cron: string;
  branch: string;
  /** The IANA time zone as written, or "UTC". */
  timezone: string;
}

export interface Plan {
  name: string;
  triggered: boolean;
  /** Topological order; ties keep file order, then matrix order. */
  stages: PlannedStage[];
  /** `on.schedule` of the file, whatever the trigger (also when not triggered); empty when it has none. */
  schedules: PlannedSchedule[];
  /** `on.manual.inputs` as the run sees them: given, else the default, else "". */
  inputs: Record<string, string>;
  /** What is wrong with the inputs a manual run was given (missing, unknown, of the wrong type); empty otherwise. */
  inputProblems: string[];
}
