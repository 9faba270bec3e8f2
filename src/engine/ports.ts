/**
 * What the engine needs from the outside world. The engine imports no
 * adapter: the store, the agent transport and the clock come in through
 * these interfaces.
 */
import type { RunEventBody } from "../saga/events.js";
import type { RunState } from "../saga/run-state.js";
import type { PlannedStage } from "../pipeline-parser/types.js";
import type { RunSource } from "../saga/events.js";

export interface RunStore {
  /** Creates the run with its first event, `run.planned`, at seq 1. */
  create(runId: string, planned: Extract<RunEventBody, { type: "run.planned" }>, at: string): Promise<RunState>;
  /**
   * Appends events after `state.seq` and updates the projections, in one
   * transaction. Throws `ConcurrentAppendError` when another writer got there first.
   */
  append(state: RunState, events: readonly RunEventBody[], at: string): Promise<RunState>;
  load(runId: string): Promise<RunState | null>;
  unfinishedRunIds(): Promise<string[]>;
  appendLogs(ref: AttemptRef, chunks: readonly LogChunk[]): Promise<void>;
}

export class ConcurrentAppendError extends Error {
  /** Retrying after re-reading the history can help. */
  readonly retryable = true;
  constructor(
    readonly runId: string,
    readonly seq: number,
  ) {
    super(`run ${runId}: event ${seq} was appended by another writer`);
    this.name = "ConcurrentAppendError";
  }
}

export interface AttemptRef {
  runId: string;
  stageId: string;
  attempt: number;
}

export interface LogChunk {
  seq: number;
  data: string;
}

/** One stage attempt as an agent receives it. */
export interface Assignment extends AttemptRef {
  stage: PlannedStage;
  source: RunSource;
  env: Record<string, string>;
}

/** A connected agent, as the transport presents it to the engine. */
export interface AgentLink {
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly capacity: number;
  /** Pushes an assignment down the agent's stream; false if the stream is gone. */
  assign(assignment: Assignment): boolean;
  cancel(ref: AttemptRef, reason: string): void;
}

export interface Clock {
  now(): Date;
}
