/**
 * What the engine needs from the outside world. The engine imports no
 * adapter: the store, the agent transport and the clock come in through
 * these interfaces.
 */
import type { RunEventBody } from "../saga/events.js";
import type { RunState } from "../saga/run-state.js";
import type { PlannedStage } from "../pipeline-parser/types.js";
import type { DirectorySource } from "../saga/events.js";

/**
 * How an append relates to the run's owner (the one control-plane process
 * that drives an unfinished run):
 * - `owner`: fenced: fails with OwnershipLostError unless this process owns the run;
 * - `external`: a request from outside (cancel) appended without driving the run;
 * - `claim`: takes ownership (a re-run re-opening a completed run).
 */
export type AppendMode = "owner" | "external" | "claim";

export interface RunStore {
  /** Creates the run with its first event, `run.planned`, at seq 1, owned by this process. */
  create(runId: string, planned: Extract<RunEventBody, { type: "run.planned" }>, at: string): Promise<RunState>;
  /**
   * Appends events after `state.seq` and updates the projections, in one
   * transaction, with `logs` (the last output of attempts whose results are
   * among the events: stored with them, or not at all), and notifies other
   * processes. Throws ConcurrentAppendError
   * when another writer got there first, OwnershipLostError when fenced out.
   */
  append(state: RunState, events: readonly RunEventBody[], at: string, mode?: AppendMode, logs?: readonly AttemptLogs[]): Promise<RunState>;
  load(runId: string): Promise<RunState | null>;
  /** Claims unfinished runs nobody owns (or whose owner stopped renewing); returns their ids, oldest first. */
  claimRuns(): Promise<string[]>;
  /** Renews this process's ownership; returns the runs it still owns with their last seq. */
  renewOwnership(): Promise<{ runId: string; lastSeq: number }[]>;
  /**
   * Calls `listener` with the run id whenever another process appends to a
   * run it does not own, or claims it (a latency hint only: its owner learns
   * of it at its next append anyway).
   */
  watchRuns(listener: (runId: string) => void): Promise<() => Promise<void>>;
  appendLogs(ref: AttemptRef, chunks: readonly LogChunk[]): Promise<void>;
}

export class OwnershipLostError extends Error {
  /** The run is driven by another process now; retrying here cannot help. */
  readonly retryable = false;
  constructor(readonly runId: string) {
    super(`run ${runId} is owned by another control-plane process`);
    this.name = "OwnershipLostError";
  }
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

/** Log chunks of one attempt. */
export interface AttemptLogs {
  ref: AttemptRef;
  chunks: readonly LogChunk[];
}

/** One stage attempt as an agent receives it. */
export interface Assignment extends AttemptRef {
  stage: PlannedStage;
  source: DirectorySource;
  env: Record<string, string>;
  /** The run's repository as recorded (the stage's `env` cannot change it): whose secrets the stage gets. */
  repo: string;
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

/**
 * Time, as the engine sees it: the time of appends (and so of a retry's
 * `notBefore`), lease expiry, and the timers that wake the engine when one
 * of them is due. Tests pass a virtual clock; `systemClock` is the real one.
 */
export interface Clock {
  now(): Date;
  /**
   * Calls `fn` once, `ms` from now on this clock; the result cancels it.
   * The real clock's timers do not keep the process alive.
   */
  setTimer(fn: () => void, ms: number): () => void;
}

/**
 * Providers that start an agent per attempt (docker, kubernetes). The engine
 * asks for one when an attempt is queued that no connected agent can take,
 * and says when the attempt is over so everything provisioned for it goes.
 */
export interface Provisioner {
  /** Starts an agent for the attempt (labelled `hodei.attempt`); must not throw. */
  provision(ref: AttemptRef, stage: PlannedStage): void;
  /**
   * The attempt ended (or will never run): release what was provisioned for
   * it. Called once per attempt this process provisioned, and once for each
   * attempt that was leased when it started (an earlier process may have
   * provisioned it); nothing to release is not an error.
   */
  release(ref: AttemptRef): void;
}
