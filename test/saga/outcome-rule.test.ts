import { describe, expect, it } from "vitest";
import { drive } from "./drive-run.js";
import { stage } from "./plan-stages.js";

// build -> test -> { deploy (default), notify (failure), report (success, failure), cleanup (always) }
const pipeline = (extra: { testSkip?: boolean; testAllowFailure?: boolean } = {}) => [
  stage("build"),
  stage("test", { needs: ["build"], skip: extra.testSkip ?? false, allowFailure: extra.testAllowFailure ?? false }),
  stage("deploy", { needs: ["test"] }),
  stage("notify", { needs: ["test"], status: ["failure"] }),
  stage("report", { needs: ["test"], status: ["success", "failure"] }),
  stage("cleanup", { needs: ["test"], status: "always" }),
];

describe("when.status", () => {
  it("on success: the default and success stages run, a failure-only stage is skipped saying why", () => {
    const { state, conclusions } = drive(pipeline());
    expect(conclusions).toEqual({ build: "success", test: "success", deploy: "success", notify: "skipped", report: "success", cleanup: "success" });
    expect(state.stages.get("notify")!.reason).toBe("runs on failure, and nothing it needs failed");
    expect(state.conclusion).toBe("success");
  });

  it("on a failure upstream (of a need's need): failure and always stages run after it, default ones are skipped; the run still fails", () => {
    const { state, conclusions, started } = drive(pipeline(), { build: ["failure"] });
    expect(conclusions).toEqual({ build: "failure", test: "skipped", deploy: "skipped", notify: "success", report: "success", cleanup: "success" });
    expect(started).toEqual(["build", "notify", "report", "cleanup"]);
    expect(state.stages.get("deploy")!.reason).toBe("needs test, which ended skipped");
    expect(state.conclusion).toBe("failure");
  });

  it("a failure with allow_failure is no failure: failure-only stages are skipped, the rest run", () => {
    const { conclusions } = drive(pipeline({ testAllowFailure: true }), { test: ["failure"] });
    expect(conclusions).toMatchObject({ test: "failure", deploy: "success", notify: "skipped", report: "success", cleanup: "success" });
  });

  it("a need skipped by when: only always stages run", () => {
    const { conclusions } = drive(pipeline({ testSkip: true }));
    expect(conclusions).toMatchObject({ test: "skipped", deploy: "skipped", notify: "skipped", report: "skipped", cleanup: "success" });
  });

  it("a timed-out need counts as a failure; a failing outcome stage fails the run like any other", () => {
    const { state, conclusions } = drive(pipeline(), { test: ["timed_out"], notify: ["failure"] });
    expect(conclusions).toMatchObject({ test: "timed_out", deploy: "skipped", notify: "failure", cleanup: "success" });
    expect(state.conclusion).toBe("failure");
  });

  it("waits for every need to end before it runs", () => {
    const { started } = drive(
      [stage("a"), stage("b"), stage("c", { needs: ["a"] }), stage("notify", { needs: ["b", "c"], status: ["failure"] })],
      { a: ["failure"] },
    );
    expect(started.indexOf("notify")).toBeGreaterThan(started.indexOf("b"));
    expect(started.at(-1)).toBe("notify");
  });
});
