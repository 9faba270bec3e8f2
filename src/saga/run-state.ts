/**
 * A run's state, derived from its events and nothing else. `applyEvent` is a
 * pure fold step; an event that does not fit the state is a corrupt history
 * and throws, so a change that alters the meaning of old histories is caught
 * by the replay tests rather than silently tolerated.
 */
import type { PlannedStage } from "../pipeline-parser/types.js";
import type { AttemptOutcome, RunConclusion, RunEvent, RunEventBody, RunPlannedData, StageConclusion } from "./events.js";

/** `pending`: waiting for needs; `queued`: ready, waiting for an agent; `leased`: sent to an agent. */
export type StagePhase = "pending" | "queued" | "leased" | "running" | "completed";

export interface StageState {
  plan: PlannedStage;
  phase: StagePhase;
  /** Not queued before the run is approved (RunPlannedData.approvalRequired). */
  needsApproval: boolean;
  /** The current (or last) attempt, from 1; 0 before the first. */
  attempt: number;
  agentId: string | null;
  conclusion: StageConclusion | null;
  reason: string | null;
  exitCode: number | null;
  /** Outcome of the attempt that just finished, until the engine decides (retry or conclude). */
  lastOutcome: AttemptOutcome | null;
  /** The attempt number before the current round of attempts (0, or where a re-run started). */
  roundStart: number;
  /** A queued retry may not be leased before this time (ISO); null when it may at once. */
  notBefore: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface RunState {
  id: string;
  /** The seq of the last applied event; the next event gets seq + 1. */
  seq: number;
  meta: Omit<RunPlannedData, "stages">;
  /** In plan order (topological). */
  stages: Map<string, StageState>;
  cancelRequested: boolean;
  /** Who approved the run's head (`run.approved`); null while not approved. */
  approvedBy: string | null;
  conclusion: RunConclusion | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export class CorruptHistoryError extends Error {
  constructor(
    readonly runId: string,
    readonly seq: number,
    detail: string,
  ) {
    super(`run ${runId}, event ${seq}: ${detail}`);
    this.name = "CorruptHistoryError";
  }
}

export function replay(runId: string, events: readonly RunEvent[]): RunState {
  const [first, ...rest] = events;
  if (!first) throw new CorruptHistoryError(runId, 0, "history is empty");
  return applyEvents(initialState(runId, first), rest);
}

export function initialState(runId: string, event: RunEvent): RunState {
  if (event.type !== "run.planned" || event.seq !== 1) {
    throw new CorruptHistoryError(runId, event.seq, `a history starts with run.planned at seq 1, not ${event.type}`);
  }
  const { stages, ...meta } = event.data;
  const approval = new Set(meta.approvalRequired ?? []);
  for (const id of approval) if (!stages.some((s) => s.id === id)) throw new CorruptHistoryError(runId, 1, `approval required for unknown stage ${id}`);
  return {
    id: runId,
    seq: 1,
    meta,
    stages: new Map(
      stages.map((plan) => [
        plan.id,
        {
          plan,
          phase: "pending",
          needsApproval: approval.has(plan.id),
          attempt: 0,
          agentId: null,
          conclusion: null,
          reason: null,
          exitCode: null,
          lastOutcome: null,
          roundStart: 0,
          notBefore: null,
          startedAt: null,
          finishedAt: null,
        },
      ]),
    ),
    cancelRequested: false,
    approvedBy: null,
    conclusion: null,
    createdAt: event.at,
    startedAt: null,
    finishedAt: null,
  };
}

/** Returns a new state; the input is not modified. */
export function applyEvent(state: RunState, event: RunEvent): RunState {
  return applyEvents(state, [event]);
}

/**
 * Folds several events in order; the same as applying them one by one, with
 * one copy of the stage map instead of one per event (a run of 500 stages
 * folds thousands of events). Returns a new state; the input is not modified.
 */
export function applyEvents(state: RunState, events: readonly RunEvent[]): RunState {
  if (events.length === 0) return state;
  const next: RunState = { ...state, stages: new Map(state.stages) };
  for (const event of events) foldInto(next, event);
  return next;
}

/** One fold step on a state this module owns (a copy made by applyEvents). */
function foldInto(next: RunState, event: RunEvent): void {
  // Checks read `next` before this event changes it: it is still the state the event applies to.
  const fail = (detail: string): never => {
    throw new CorruptHistoryError(next.id, event.seq, detail);
  };
  if (event.seq !== next.seq + 1) fail(`expected seq ${next.seq + 1}`);
  if (next.conclusion !== null && event.type !== "run.rerun_requested") fail(`${event.type} after run.completed`);
  next.seq = event.seq;
  const stage = (stageId: string): StageState => next.stages.get(stageId) ?? fail(`unknown stage ${stageId}`);
  const update = (stageId: string, patch: Partial<StageState>) => {
    next.stages.set(stageId, { ...stage(stageId), ...patch });
  };

  switch (event.type) {
    case "run.planned":
      fail("run.planned twice");
      return;
    case "stage.queued": {
      const s = stage(event.data.stageId);
      if (s.phase !== "pending") fail(`stage ${s.plan.id} queued while ${s.phase}`);
      if (s.needsApproval && next.approvedBy === null) fail(`stage ${s.plan.id} queued before the run was approved`);
      if (event.data.attempt !== s.attempt + 1) fail(`stage ${s.plan.id} queued as attempt ${event.data.attempt}`);
      const delay = event.data.delayMs ?? 0;
      update(s.plan.id, {
        phase: "queued",
        attempt: event.data.attempt,
        agentId: null,
        lastOutcome: null,
        notBefore: delay > 0 ? new Date(Date.parse(event.at) + delay).toISOString() : null,
      });
      return;
    }
    case "attempt.leased": {
      const s = currentAttempt(stage(event.data.stageId), event.data.attempt, fail);
      if (s.phase !== "queued") fail(`attempt ${s.plan.id}#${s.attempt} leased while ${s.phase}`);
      update(s.plan.id, { phase: "leased", agentId: event.data.agentId });
      return;
    }
    case "attempt.started": {
      const s = currentAttempt(stage(event.data.stageId), event.data.attempt, fail);
      if (s.phase !== "leased") fail(`attempt ${s.plan.id}#${s.attempt} started while ${s.phase}`);
      update(s.plan.id, { phase: "running", startedAt: s.startedAt ?? event.at });
      next.startedAt ??= event.at;
      return;
    }
    case "attempt.finished": {
      const s = currentAttempt(stage(event.data.stageId), event.data.attempt, fail);
      // Only an attempt that started can succeed or fail; one still leased can only be lost or cancelled.
      const fromLeased = event.data.outcome === "lost" || event.data.outcome === "cancelled";
      if (s.phase !== "running" && !(s.phase === "leased" && fromLeased)) {
        fail(`attempt ${s.plan.id}#${s.attempt} ended ${event.data.outcome} while ${s.phase}`);
      }
      // Back to pending: the engine decides between a retry and a conclusion.
      update(s.plan.id, {
        phase: "pending",
        agentId: null,
        exitCode: event.data.exitCode,
        lastOutcome: event.data.outcome,
        reason: event.data.reason,
      });
      return;
    }
    case "stage.completed": {
      const s = stage(event.data.stageId);
      if (s.phase !== "pending" && s.phase !== "queued") fail(`stage ${s.plan.id} completed while ${s.phase}`);
      update(s.plan.id, {
        phase: "completed",
        conclusion: event.data.conclusion,
        reason: event.data.reason,
        finishedAt: event.at,
      });
      return;
    }
    case "run.cancel_requested":
      next.cancelRequested = true;
      return;
    case "run.approved":
      if (![...next.stages.values()].some((s) => s.needsApproval)) fail("approval of a run that needs none");
      if (next.approvedBy !== null) fail("run approved twice");
      if (event.data.sha !== next.meta.sha) fail(`approval for ${event.data.sha}, not the run's head ${next.meta.sha}`);
      next.approvedBy = event.data.by;
      return;
    case "run.rerun_requested": {
      if (next.conclusion === null) fail("re-run of a run that has not completed");
      if (event.data.stageIds.length === 0) fail("re-run of no stage");
      for (const id of event.data.stageIds) {
        const s = stage(id);
        update(id, {
          phase: "pending",
          conclusion: null,
          reason: null,
          exitCode: null,
          lastOutcome: null,
          roundStart: s.attempt,
          startedAt: null,
          finishedAt: null,
        });
      }
      next.conclusion = null;
      next.finishedAt = null;
      next.cancelRequested = false;
      return;
    }
    case "run.completed":
      for (const s of next.stages.values()) if (s.phase !== "completed") fail(`run completed while ${s.plan.id} is ${s.phase}`);
      next.conclusion = event.data.conclusion;
      next.finishedAt = event.at;
      return;
  }
}

function currentAttempt(s: StageState, attempt: number, fail: (d: string) => never): StageState {
  if (attempt !== s.attempt) fail(`attempt ${attempt} of ${s.plan.id} is not its current attempt ${s.attempt}`);
  return s;
}

/**
 * What a stage that is not running waits for besides its needs: `approval`
 * while it needs the run approved (SPEC 6) and the run is not. SPEC 3 calls
 * it `queued`; the API adds this as `waitingFor`.
 */
/**
 * Folds events not yet stored, so what follows them can be decided before
 * they are all appended at once. `at` is the time they will be stored with
 * (the append's), so what depends on it (a retry's `notBefore`) is the same
 * in this fold as in a replay of the stored history.
 */
export function applyPending(state: RunState, bodies: readonly RunEventBody[], at: string): RunState {
  return applyEvents(
    state,
    bodies.map((body, i) => ({ ...body, seq: state.seq + i + 1, at })),
  );
}

export function waitingFor(state: RunState, s: StageState): "approval" | null {
  return s.needsApproval && state.approvedBy === null && s.phase === "pending" && s.lastOutcome === null ? "approval" : null;
}

/** The three-valued status of SPEC 3 (GitHub's check vocabulary). */
export function stageStatus(s: StageState): "queued" | "in_progress" | "completed" {
  if (s.phase === "completed") return "completed";
  if (s.phase === "running" || (s.phase === "pending" && s.lastOutcome !== null)) return "in_progress";
  return "queued";
}

export function runStatus(r: RunState): "queued" | "in_progress" | "completed" {
  if (r.conclusion !== null) return "completed";
  return r.startedAt === null ? "queued" : "in_progress";
}
