/**
 * Which stages a re-run resets: the stages asked for (a matrix name means
 * every instance) or the failed ones, plus everything downstream of them.
 * Upstream results are kept and reused.
 */
import type { StageConclusion } from "./events.js";
import type { RunState } from "./run-state.js";

export type RerunRefusal = "run_not_completed" | "unknown_stage" | "nothing_failed";

export class RerunRefusedError extends Error {
  constructor(
    readonly refusal: RerunRefusal,
    message: string,
    readonly stage: string | null = null,
  ) {
    super(message);
    this.name = "RerunRefusedError";
  }
}

const RERUN_WHEN_FAILED = new Set<StageConclusion>(["failure", "timed_out", "cancelled"]);

export function rerunTargets(state: RunState, request: { stages: readonly string[] } | { failed: true }): string[] {
  if (state.conclusion === null) {
    throw new RerunRefusedError("run_not_completed", `run ${state.id} is still running: cancel it or wait for it to finish`);
  }
  const roots = new Set<string>();
  if ("failed" in request) {
    for (const s of state.stages.values()) if (s.conclusion && RERUN_WHEN_FAILED.has(s.conclusion)) roots.add(s.plan.id);
    if (roots.size === 0) throw new RerunRefusedError("nothing_failed", `run ${state.id} has no failed, timed-out or cancelled stage`);
  } else {
    for (const wanted of request.stages) {
      const matches = [...state.stages.values()].filter((s) => s.plan.id === wanted || s.plan.name === wanted);
      if (matches.length === 0) throw new RerunRefusedError("unknown_stage", `run ${state.id} has no stage ${JSON.stringify(wanted)}`, wanted);
      for (const s of matches) roots.add(s.plan.id);
    }
  }
  return withDependents(state, roots);
}

/** `roots` and every stage that needs one of them, transitively, in plan order. */
function withDependents(state: RunState, roots: ReadonlySet<string>): string[] {
  const selected = new Set(roots);
  // Plan order is topological, so one pass reaches every descendant.
  for (const s of state.stages.values()) {
    if (s.plan.needs.some((n) => selected.has(n))) selected.add(s.plan.id);
  }
  return [...state.stages.keys()].filter((id) => selected.has(id));
}
