import { describe, expect, it } from "vitest";
import { decide } from "../../src/saga/decide.js";
import type { RunEventBody } from "../../src/saga/events.js";
import { applyEvent, initialState, type RunState } from "../../src/saga/run-state.js";
import type { PlannedStage } from "../../src/pipeline-parser/types.js";
import { stage } from "./plan-stages.js";

const instance = (node: string, extra: Partial<PlannedStage> = {}): PlannedStage =>
  stage(`test[node=${node}]`, { name: "test", matrix: { node }, ...extra });

/**
 * Drives a run one attempt at a time: after each decision round, the oldest
 * queued attempt is started, and the oldest running one finishes with its
 * outcome from `outcomes` (default success). Records how many instances of
 * `test` were queued or running at once.
 */
function drive(stages: PlannedStage[], outcomes: Record<string, string[]> = {}) {
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

describe("max-parallel", () => {
  it("keeps at most max-parallel instances of a matrix stage queued or running, starting them in matrix order", () => {
    const nodes = ["18", "20", "22", "24", "26"];
    const { state, mostAtOnce, started } = drive([...nodes.map((n) => instance(n, { maxParallel: 2 })), stage("lint")]);
    expect(state.conclusion).toBe("success");
    expect(mostAtOnce).toBe(2);
    expect(started.filter((id) => id.startsWith("test"))).toEqual(nodes.map((n) => `test[node=${n}]`));
  });

  it("without max-parallel starts every instance at once", () => {
    const { mostAtOnce } = drive(["18", "20", "22"].map((n) => instance(n)));
    expect(mostAtOnce).toBe(3);
  });

  it("an instance keeps its slot through its retries", () => {
    const { state, mostAtOnce, started } = drive(
      ["18", "20", "22"].map((n) => instance(n, { maxParallel: 1, retries: 1 })),
      { "test[node=18]": ["failure", "success"] },
    );
    expect(mostAtOnce).toBe(1);
    expect(started).toEqual(["test[node=18]", "test[node=18]", "test[node=20]", "test[node=22]"]);
    expect(state.conclusion).toBe("success");
  });
});

describe("fail-fast", () => {
  it("cancels the instances that have not started once one fails; running ones finish; dependents are skipped", () => {
    const { state, conclusions, started } = drive(
      [...["18", "20", "22", "24"].map((n) => instance(n, { failFast: true, maxParallel: 2 })), stage("deploy", { needs: ["test[node=18]", "test[node=20]", "test[node=22]", "test[node=24]"] })],
      { "test[node=18]": ["failure"] },
    );
    expect(started).toEqual(["test[node=18]", "test[node=20]"]);
    expect(conclusions).toEqual({
      "test[node=18]": "failure",
      "test[node=20]": "success",
      "test[node=22]": "cancelled",
      "test[node=24]": "cancelled",
      deploy: "skipped",
    });
    expect(state.stages.get("test[node=22]")!.reason).toBe("fail-fast: test[node=18] failed");
    expect(state.conclusion).toBe("failure");
  });

  it("is off by default: every instance runs after one fails", () => {
    const { conclusions } = drive(["18", "20", "22"].map((n) => instance(n, { maxParallel: 1 })), { "test[node=18]": ["failure"] });
    expect(conclusions).toEqual({ "test[node=18]": "failure", "test[node=20]": "success", "test[node=22]": "success" });
  });

  it("ignores a failure allowed by allow_failure, and waits for retries to run out", () => {
    const allowed = drive(["18", "20"].map((n) => instance(n, { failFast: true, maxParallel: 1, allowFailure: true })), { "test[node=18]": ["failure"] });
    expect(allowed.conclusions).toEqual({ "test[node=18]": "failure", "test[node=20]": "success" });
    const retried = drive(["18", "20"].map((n) => instance(n, { failFast: true, maxParallel: 1, retries: 1 })), { "test[node=18]": ["failure", "success"] });
    expect(retried.conclusions).toEqual({ "test[node=18]": "success", "test[node=20]": "success" });
  });
});
