import { decide } from "../../src/saga/decide.js";
import type { RunEventBody } from "../../src/saga/events.js";
import { applyEvent, initialState, type RunState } from "../../src/saga/run-state.js";
import type { PlannedStage } from "../../src/pipeline-parser/types.js";

/**
 * Drives a run one attempt at a time: after each decision round, the oldest
 * queued attempt is started, and the oldest running one finishes with its
 * outcome from `outcomes` (default success). Records how many instances of
 * `test` were queued or running at once, and the order attempts started in.
 */
export function drive(stages: PlannedStage[], outcomes: Record<string, string[]> = {}) {
  let seq = 0;
  const at = () => new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString();
  let state: RunState = initialState("r1", {
    type: "run.planned",
    seq: ++seq,
    at: at(),
    data: { pipeline: "ci", source: { kind: "directory", path: "/src" }, repo: "a/b", sha: "abc", ref: "refs/heads/main", event: "push", stages },
  });
  const apply = (body: RunEventBody) => {
    state = applyEvent(state, { ...body, seq: ++seq, at: at() });
  };
  let mostAtOnce = 0;
  const started: string[] = [];
  for (let guard = 0; guard < 1000 && !state.conclusion; guard++) {
    for (let d = decide(state); d.length > 0; d = decide(state)) d.forEach(apply);
    if (state.conclusion) break;
    const busy = [...state.stages.values()].filter((s) => s.plan.name === "test" && ["queued", "leased", "running"].includes(s.phase));
    mostAtOnce = Math.max(mostAtOnce, busy.length);
    const queued = [...state.stages.values()].find((s) => s.phase === "queued");
    if (queued) {
      apply({ type: "attempt.leased", data: { stageId: queued.plan.id, attempt: queued.attempt, agentId: "a1" } });
      apply({ type: "attempt.started", data: { stageId: queued.plan.id, attempt: queued.attempt, agentId: "a1" } });
      started.push(queued.plan.id);
    }
    const running = [...state.stages.values()].filter((s) => s.phase === "running");
    // Keep two attempts in flight when there are, so a sibling is running while one fails.
    if (running.length === 0 || (queued && running.length < 2)) continue;
    const s = running[0]!;
    const outcome = (outcomes[s.plan.id]?.[s.attempt - 1] ?? "success") as "success" | "failure";
    apply({ type: "attempt.finished", data: { stageId: s.plan.id, attempt: s.attempt, outcome, exitCode: outcome === "success" ? 0 : 1, reason: null } });
  }
  const conclusions = Object.fromEntries([...state.stages.values()].map((x) => [x.plan.id, x.conclusion]));
  return { state, mostAtOnce, started, conclusions };
}

