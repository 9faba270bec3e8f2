/**
 * The provider port: where agents come from. The control plane asks a
 * provider for agents; they dial back over gRPC like any other agent, so the
 * engine never learns which provider an agent came from except by its
 * `provider` label.
 */
import type { PlannedStage } from "../pipeline-parser/types.js";
import type { AttemptRef } from "../engine/ports.js";

export interface AgentEndpoint {
  /** host:port of the control plane's gRPC listener, as seen from the agent. */
  server: string;
  /** A token the agent registers with. */
  token: string;
}

export interface Provider {
  readonly name: "local" | "docker" | "kubernetes";
  /** Brings up the provider's agents (or gets ready to provision them). */
  start(endpoint: AgentEndpoint): Promise<void>;
  /** Releases everything the provider started; nothing of it outlives this call. */
  stop(): Promise<void>;
}

/** Where an attempt a provider started an agent for stands. */
export type AttemptStatus =
  /** queued: no agent has taken it yet */
  | "waiting"
  /** leased to or running on an agent */
  | "taken"
  /** finished, superseded by a later attempt, or its run is gone */
  | "over";

/**
 * What a per-attempt provider (docker, kubernetes) needs from the control
 * plane. Passed in, so the provider knows neither the store nor the agent
 * server: credentials in particular come from `agentCredentials`, which may
 * hand out a one-time bootstrap token per attempt.
 */
export interface ProvisionerHooks {
  /** host:port of the control plane's gRPC listener, as the provisioned agent sees it. */
  server: string;
  /**
   * The environment that lets the agent for this attempt register:
   * HODEI_AGENT_TOKEN (a one-time token per attempt where the server mints
   * them) and HODEI_AGENT_CA where the server speaks TLS.
   */
  agentCredentials(ref: AttemptRef): Promise<Record<string, string>>;
  attemptStatus(ref: AttemptRef): Promise<AttemptStatus>;
  /** Ends the attempt with a reason (the engine's provisioningFailed); a provider calls it at most once per attempt. */
  failed(ref: AttemptRef, provider: string, reason: string): void;
  /**
   * Appends the output of the attempt's services to the stage's log, after
   * the agent's own (chunks numbered from SERVICE_LOG_SEQ); absent where
   * there is no store to append to.
   */
  serviceLogs?(ref: AttemptRef, text: string): Promise<void>;
  log(message: string): void;
}

/** Log chunks a provider appends (services' output) are numbered from here, past any agent's. */
export const SERVICE_LOG_SEQ = 2_000_000_000;
/** How much of each service's output goes into the stage's log when the attempt ends. */
export const SERVICE_LOG_LINES = 200;

/** CPU and memory for each provisioned agent's stage (null: no limit). */
export interface StageResources {
  /** CPUs, e.g. 1.5. */
  cpus: number | null;
  memoryBytes: number | null;
}

/** The stage's own `resources`, key by key over the server's defaults (HODEI_STAGE_CPUS, HODEI_STAGE_MEMORY). */
export function stageResources(stage: Pick<PlannedStage, "resources">, defaults: StageResources | undefined): StageResources {
  return {
    cpus: stage.resources?.cpus ?? defaults?.cpus ?? null,
    memoryBytes: stage.resources?.memoryBytes ?? defaults?.memoryBytes ?? null,
  };
}
