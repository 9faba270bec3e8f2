/** What an Engine is built from and what it tells its listeners. */
import type { PlannedStage } from "../pipeline-parser/types.js";
import type { DirectorySource, RunEvent, RunSource } from "../saga/events.js";
import type { RunState } from "../saga/run-state.js";
import type { AttemptRef, Clock, LogChunk, Provisioner, RunStore } from "./ports.js";

export class RunNotFoundError extends Error {
  constructor(readonly runId: string) {
    super(`no run ${runId}`);
    this.name = "RunNotFoundError";
  }
}

export interface EngineListener {
  /** After events are stored; `state` is the run after them. */
  onEvents?(state: RunState, events: readonly RunEvent[]): void;
  onLogs?(ref: AttemptRef, chunks: readonly LogChunk[]): void;
}

export interface EngineOptions {
  store: RunStore;
  clock?: Clock;
  /** A lease not renewed for this long ends its attempt as lost (SPEC 7). */
  leaseMs?: number;
  /** How often (a third of it) this process renews ownership of its runs and looks for orphans. */
  ownershipMs?: number;
  newRunId?: () => string;
  onError?: (error: unknown, context: string) => void;
  /** Operator log lines (a store outage and what each run waits for); default: stderr. */
  log?: (message: string) => void;
  /**
   * Turns a run's source into what the agent is told to fetch, just before an
   * attempt is leased (e.g. a checkout of a git commit made on demand). The
   * default hands a directory on as it is and refuses a git source.
   */
  resolveSource?: (runId: string, source: RunSource) => Promise<DirectorySource>;
  /** Per-attempt agent provisioning, by provider name (docker, kubernetes). */
  provisioners?: Partial<Record<PlannedStage["provider"], Provisioner>>;
}
