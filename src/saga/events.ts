/**
 * The events of a run. A run's state is the fold of its events (run-state.ts);
 * nothing else is authoritative. Events are facts: once a type is released its
 * meaning never changes, because recorded histories are replayed by every new
 * version (test/saga/replay.test.ts).
 */
import type { PlannedStage, TriggerEvent } from "../pipeline-parser/types.js";

export type StageConclusion = "success" | "failure" | "cancelled" | "skipped" | "timed_out";
export type RunConclusion = "success" | "failure" | "cancelled";
/** How one attempt ended, as the agent (or the lease sweeper) saw it. */
export type AttemptOutcome = "success" | "failure" | "timed_out" | "cancelled" | "lost";

/** A directory on the server's host holding the run's files (what agents are handed). */
export type DirectorySource = { kind: "directory"; path: string };

/**
 * Where the run's files come from: a directory, or a commit of a git
 * repository, materialised into a directory (EngineOptions.resolveSource)
 * just before an attempt is leased.
 */
export type RunSource = DirectorySource | { kind: "git"; url: string; sha: string };

/** What a forge-triggered run needs for reporting and for finding it again (absent for CLI and API runs). */
export interface RunTrigger {
  forge: "github" | "gitea";
  /** `owner/name` as the forge names it. */
  repo: string;
  cloneUrl: string;
  /** The GitHub App installation that sent the event, for check runs. */
  installationId: number | null;
  deliveryId: string | null;
  pullRequest: { number: number; baseRef: string; headRef: string; fork: boolean } | null;
  /** Who caused the run (pusher, PR author, commenter). */
  sender: string | null;
}

export interface RunPlannedData {
  pipeline: string;
  source: RunSource;
  repo: string;
  sha: string;
  ref: string | null;
  event: TriggerEvent;
  stages: PlannedStage[];
  /** Added after the first release: older histories have none. */
  trigger?: RunTrigger;
  /**
   * Stages that are not queued until `run.approved` (SPEC 6: a fork's pull
   * request, the stages that list secrets). Their dependents wait with them
   * through their needs. Absent or empty: nothing waits.
   */
  approvalRequired?: string[];
  /** A manual run's `on.manual.inputs` as its stages saw them (given, else default). */
  inputs?: Record<string, string>;
}

export type RunEventBody =
  | { type: "run.planned"; data: RunPlannedData }
  /** `delayMs`: a retry waits this long after the event before it may be leased (backoff). */
  | { type: "stage.queued"; data: { stageId: string; attempt: number; delayMs?: number } }
  | { type: "attempt.leased"; data: { stageId: string; attempt: number; agentId: string } }
  | { type: "attempt.started"; data: { stageId: string; attempt: number; agentId: string } }
  | {
      type: "attempt.finished";
      data: { stageId: string; attempt: number; outcome: AttemptOutcome; exitCode: number | null; reason: string | null };
    }
  | { type: "stage.completed"; data: { stageId: string; conclusion: StageConclusion; reason: string | null } }
  | { type: "run.cancel_requested"; data: { reason: string } }
  /**
   * Re-opens a completed run: `stageIds` (already expanded to the stages asked
   * for and all their dependents) go back to pending; every other stage keeps
   * its result, which the re-run stages reuse.
   */
  | { type: "run.rerun_requested"; data: { stageIds: string[]; reason: string } }
  /**
   * A user with write permission approved the run's head (`/hodei approve`):
   * its `approvalRequired` stages may now be queued. `sha` is the head that
   * was approved, always the run's own.
   */
  | { type: "run.approved"; data: { by: string; sha: string } }
  | { type: "run.completed"; data: { conclusion: RunConclusion } };

export type RunEventType = RunEventBody["type"];

/** An event as recorded: its position in the run's log and when it happened. */
export type RunEvent = RunEventBody & { seq: number; at: string };

export type EventOf<T extends RunEventType> = Extract<RunEventBody, { type: T }>;
