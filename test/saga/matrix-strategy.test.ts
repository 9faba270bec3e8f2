import { describe, expect, it } from "vitest";
import type { PlannedStage } from "../../src/pipeline-parser/types.js";
import { decide } from "../../src/saga/decide.js";
import { failFastCancels } from "../../src/saga/matrix-strategy.js";
import { applyEvent, initialState, type RunState } from "../../src/saga/run-state.js";
import type { RunEventBody } from "../../src/saga/events.js";
import { drive } from "./drive-run.js";
import { stage } from "./plan-stages.js";

const instance = (node: string, extra: Partial<PlannedStage> = {}): PlannedStage =>
  stage(`test[node=${node}]`, { name: "test", matrix: { node }, ...extra });

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
  it("the fold cancels the instances that have not started once one fails (running ones are stopped by the dispatcher); dependents are skipped", () => {
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

describe("failFastCancels", () => {
  it("names the running instances of a fail-fast stage once a sibling has failed, and nothing before", () => {
    let seq = 0;
    const stages = ["18", "20", "22"].map((n) => instance(n, { failFast: true }));
    let state: RunState = initialState("r1", {
      type: "run.planned",
      seq: ++seq,
      at: "2026-01-01T00:00:00.000Z",
      data: { pipeline: "ci", source: { kind: "directory", path: "/src" }, repo: "a/b", sha: "abc", ref: null, event: "push", stages },
    });
    const apply = (body: RunEventBody) => (state = applyEvent(state, { ...body, seq: ++seq, at: "2026-01-01T00:00:00.000Z" }));
    decide(state).forEach(apply);
    for (const s of stages) {
      apply({ type: "attempt.leased", data: { stageId: s.id, attempt: 1, agentId: "a1" } });
      apply({ type: "attempt.started", data: { stageId: s.id, attempt: 1, agentId: "a1" } });
    }
    expect(failFastCancels(state)).toEqual([]);
    apply({ type: "attempt.finished", data: { stageId: "test[node=18]", attempt: 1, outcome: "failure", exitCode: 1, reason: null } });
    // Not yet concluded (the fold decides retry or failure): still nothing to cancel.
    expect(failFastCancels(state)).toEqual([]);
    decide(state).forEach(apply);
    expect(failFastCancels(state).map((c) => [c.stage.plan.id, c.sibling])).toEqual([
      ["test[node=20]", "test[node=18]"],
      ["test[node=22]", "test[node=18]"],
    ]);
  });
});
