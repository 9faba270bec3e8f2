import { describe, expect, it } from "vitest";
import type { PlannedStage } from "../../src/pipeline-parser/types.js";
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
