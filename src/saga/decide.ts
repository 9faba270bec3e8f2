/**
 * The engine's decisions: given a run's state, which events follow from it
 * alone. Pure and deterministic; the scheduler appends what this returns and
 * calls it again until it returns nothing. Decisions are recorded as events
 * (stage.completed, run.completed) so that a later change of these rules
 * never changes what an old history means.
 */
import type { RunEventBody, StageConclusion } from "./events.js";
import { runConclusion } from "./conclusion.js";
import { failedSibling, MatrixSlots } from "./matrix-strategy.js";
import { needsVerdict } from "./outcome-rule.js";
import type { RunState, StageState } from "./run-state.js";

export function decide(state: RunState): RunEventBody[] {
  if (state.conclusion !== null) return [];
  const out: RunEventBody[] = [];
  // Decide stage by stage against a working copy of conclusions, so one call
  // settles a whole chain of skips in plan (topological) order.
  const concluded = new Map<string, StageConclusion>();
  for (const s of state.stages.values()) if (s.conclusion) concluded.set(s.plan.id, s.conclusion);
  const slots = new MatrixSlots(state);

  for (const s of state.stages.values()) {
    if (s.phase === "completed") continue;
    const event = decideStage(state, s, concluded, slots);
    if (!event) continue;
    out.push(event);
    if (event.type === "stage.completed") {
      concluded.set(s.plan.id, event.data.conclusion);
      slots.concluded(s);
    } else if (event.type === "stage.queued") slots.started(s);
  }

  if (concluded.size === state.stages.size) {
    const stages = [...state.stages.values()].map((s) => ({
      conclusion: concluded.get(s.plan.id) ?? null,
      allowFailure: s.plan.allowFailure,
    }));
    out.push({ type: "run.completed", data: { conclusion: runConclusion(stages, state.cancelRequested) } });
  }
  return out;
}

function decideStage(
  state: RunState,
  s: StageState,
  concluded: ReadonlyMap<string, StageConclusion>,
  slots: MatrixSlots,
): RunEventBody | null {
  const complete = (conclusion: StageConclusion, reason: string | null): RunEventBody => ({
    type: "stage.completed",
    data: { stageId: s.plan.id, conclusion, reason },
  });

  // An attempt has finished: retry it or conclude the stage.
  const outcome = s.lastOutcome;
  if (s.phase === "pending" && outcome !== null) {
    if (outcome === "success") return complete("success", null);
    if (outcome === "cancelled" || state.cancelRequested) return complete("cancelled", s.reason ?? "run cancelled");
    const retry = s.attempt - s.roundStart;
    if (retry <= s.plan.retries) {
      // A lost agent says nothing about the stage: retry at once. A failure backs off.
      const delayMs = outcome === "lost" ? 0 : retryBackoffMs(retry);
      return { type: "stage.queued", data: { stageId: s.plan.id, attempt: s.attempt + 1, ...(delayMs > 0 ? { delayMs } : {}) } };
    }
    if (outcome === "timed_out") return complete("timed_out", s.reason);
    if (outcome === "lost") return complete("failure", s.reason ?? "agent lost");
    return complete("failure", s.reason);
  }

  if (state.cancelRequested && (s.phase === "pending" || s.phase === "queued")) {
    return complete("cancelled", "run cancelled");
  }
  // fail-fast: an instance that has not started is cancelled once a sibling failed (the dispatcher stops running ones).
  const failed = s.phase === "pending" || s.phase === "queued" ? failedSibling(state, s, concluded) : null;
  if (failed !== null && !(s.phase === "pending" && s.plan.skip)) return complete("cancelled", `fail-fast: ${failed} failed`);
  if (s.phase !== "pending") return null;

  if (s.plan.skip) return complete("skipped", "excluded by when");
  const verdict = needsVerdict(state, s, concluded);
  if (verdict === "wait") return null;
  if (verdict !== "ready") return complete("skipped", verdict.skipped);
  // SPEC 6: ready, but it may not run (nor get its secrets) before the run is approved.
  if (s.needsApproval && state.approvedBy === null) return null;
  // max-parallel: wait (in plan order) for a slot of the matrix stage.
  if (!slots.mayStart(s)) return null;
  return { type: "stage.queued", data: { stageId: s.plan.id, attempt: s.attempt + 1 } };
}

/** 1 s before the first retry of a failure, doubling, at most 30 s. */
export function retryBackoffMs(retry: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, retry - 1));
}
