import { describe, expect, it } from "vitest";
import { decide } from "../../src/saga/decide.js";
import type { RunEventBody } from "../../src/saga/events.js";
import { applyEvent, CorruptHistoryError, initialState, stageStatus, waitingFor, type RunState } from "../../src/saga/run-state.js";
import type { PlannedStage } from "../../src/pipeline-parser/types.js";
import { stage } from "./plan-stages.js";

/** Drives a run purely: `outcomes` says how each stage's attempts end. */
function simulate(stages: PlannedStage[], outcomes: Record<string, ("success" | "failure" | "timed_out" | "lost")[]>, cancelAfterStarts = Infinity) {
  let seq = 0;
  const at = () => new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString();
  let state = initialState("r1", {
    type: "run.planned",
    seq: ++seq,
    at: at(),
    data: { pipeline: "ci", source: { kind: "directory", path: "/src" }, repo: "a/b", sha: "abc", ref: "refs/heads/main", event: "push", stages },
  });
  const apply = (body: RunEventBody) => {
    state = applyEvent(state, { ...body, seq: ++seq, at: at() });
  };
  const order: string[] = [];
  let starts = 0;
  for (let guard = 0; guard < 1000 && !state.conclusion; guard++) {
    const decided = decide(state);
    decided.forEach(apply);
    if (decided.length > 0) continue;
    // Run every queued stage (they are independent by construction of decide).
    const queued = [...state.stages.values()].filter((s) => s.phase === "queued");
    if (queued.length === 0) throw new Error("stuck: nothing queued and nothing decided");
    for (const s of queued) {
      apply({ type: "attempt.leased", data: { stageId: s.plan.id, attempt: s.attempt, agentId: "a1" } });
      apply({ type: "attempt.started", data: { stageId: s.plan.id, attempt: s.attempt, agentId: "a1" } });
      order.push(s.plan.id);
      if (++starts === cancelAfterStarts) apply({ type: "run.cancel_requested", data: { reason: "test" } });
      const outcome = outcomes[s.plan.id]?.[s.attempt - 1] ?? "success";
      apply({
        type: "attempt.finished",
        data: { stageId: s.plan.id, attempt: s.attempt, outcome: state.cancelRequested ? "cancelled" : outcome, exitCode: outcome === "success" ? 0 : 1, reason: null },
      });
    }
  }
  return { state, order };
}

const conclusions = (s: RunState) => Object.fromEntries([...s.stages.values()].map((x) => [x.plan.id, x.conclusion]));

describe("decide", () => {
  it("runs stages in dependency order and concludes success", () => {
    const { state, order } = simulate([stage("build"), stage("test", { needs: ["build"] }), stage("deploy", { needs: ["test"] })], {});
    expect(order).toEqual(["build", "test", "deploy"]);
    expect(state.conclusion).toBe("success");
    expect([...state.stages.values()].every((s) => stageStatus(s) === "completed")).toBe(true);
  });

  it("skips the dependents of a failed stage while independent stages still run", () => {
    const { state, order } = simulate(
      [stage("build"), stage("lint"), stage("test", { needs: ["build"] }), stage("deploy", { needs: ["test", "lint"] })],
      { build: ["failure"] },
    );
    expect(order).toEqual(["build", "lint"]);
    expect(conclusions(state)).toEqual({ build: "failure", lint: "success", test: "skipped", deploy: "skipped" });
    expect(state.stages.get("test")!.reason).toBe("needs build, which ended failure");
    expect(state.conclusion).toBe("failure");
  });

  it("retries a failed attempt while attempts remain", () => {
    const { state, order } = simulate([stage("flaky", { retries: 2 })], { flaky: ["failure", "lost", "success"] });
    expect(order).toEqual(["flaky", "flaky", "flaky"]);
    expect(state.stages.get("flaky")!.attempt).toBe(3);
    expect(state.conclusion).toBe("success");
  });

  it("ends a lost attempt without retries as failure with the reason agent lost", () => {
    const { state } = simulate([stage("a")], { a: ["lost"] });
    expect(state.stages.get("a")).toMatchObject({ conclusion: "failure", reason: "agent lost" });
  });

  it("keeps timed_out as the conclusion and fails the run", () => {
    const { state } = simulate([stage("a"), stage("b", { needs: ["a"] })], { a: ["timed_out"] });
    expect(conclusions(state)).toEqual({ a: "timed_out", b: "skipped" });
    expect(state.conclusion).toBe("failure");
  });

  it("lets an allow_failure stage fail without failing the run or skipping dependents", () => {
    const { state } = simulate([stage("a", { allowFailure: true }), stage("b", { needs: ["a"] })], { a: ["failure"] });
    expect(conclusions(state)).toEqual({ a: "failure", b: "success" });
    expect(state.conclusion).toBe("success");
  });

  it("skips stages excluded by when, and their dependents", () => {
    const { state, order } = simulate([stage("a", { skip: true }), stage("b", { needs: ["a"] }), stage("c")], {});
    expect(order).toEqual(["c"]);
    expect(conclusions(state)).toEqual({ a: "skipped", b: "skipped", c: "success" });
    expect(state.conclusion).toBe("success");
  });

  it("cancels queued and pending stages and concludes cancelled", () => {
    const { state } = simulate([stage("a"), stage("b", { needs: ["a"] })], {}, 1);
    expect(conclusions(state)).toEqual({ a: "cancelled", b: "cancelled" });
    expect(state.conclusion).toBe("cancelled");
  });

  it("decides nothing for a completed run", () => {
    const { state } = simulate([stage("a")], {});
    expect(decide(state)).toEqual([]);
  });
});

describe("re-runs", () => {
  it("re-runs one stage and its dependents, reusing upstream results, with a fresh retry budget", async () => {
    const { rerunTargets } = await import("../../src/saga/rerun.js");
    const stages = [stage("build"), stage("test", { needs: ["build"], retries: 1 }), stage("deploy", { needs: ["test"] }), stage("lint")];
    const { state } = simulate(stages, { test: ["failure", "failure"] });
    expect(state.conclusion).toBe("failure");
    expect(rerunTargets(state, { stages: ["test"] })).toEqual(["test", "deploy"]);
    expect(rerunTargets(state, { failed: true })).toEqual(["test", "deploy"]);

    let seq = state.seq;
    let s = applyEvent(state, { type: "run.rerun_requested", data: { stageIds: ["test", "deploy"], reason: "t" }, seq: ++seq, at: "2026-01-01T00:01:00.000Z" });
    expect(s.conclusion).toBeNull();
    expect(stageStatus(s.stages.get("test")!)).toBe("queued");
    // build and lint keep their results; test is queued as attempt 3 right away.
    const decided = decide(s);
    expect(decided).toEqual([{ type: "stage.queued", data: { stageId: "test", attempt: 3 } }]);
    s = applyEvent(s, { ...decided[0]!, seq: ++seq, at: "2026-01-01T00:01:01.000Z" });
    s = applyEvent(s, { type: "attempt.leased", data: { stageId: "test", attempt: 3, agentId: "a" }, seq: ++seq, at: "2026-01-01T00:01:02.000Z" });
    s = applyEvent(s, { type: "attempt.started", data: { stageId: "test", attempt: 3, agentId: "a" }, seq: ++seq, at: "2026-01-01T00:01:03.000Z" });
    s = applyEvent(s, { type: "attempt.finished", data: { stageId: "test", attempt: 3, outcome: "failure", exitCode: 1, reason: null }, seq: seq + 1, at: "2026-01-01T00:01:04.000Z" });
    // retries: 1 counts again from the re-run: attempt 4 is allowed.
    expect(decide(s)).toEqual([{ type: "stage.queued", data: { stageId: "test", attempt: 4, delayMs: 1000 } }]);
  });

  it("refuses to re-run a running run, an unknown stage, or a run with nothing failed", async () => {
    const { rerunTargets, RerunRefusedError } = await import("../../src/saga/rerun.js");
    const { state } = simulate([stage("a")], {});
    expect(() => rerunTargets(state, { stages: ["nope"] })).toThrow(RerunRefusedError);
    expect(() => rerunTargets(state, { failed: true })).toThrow(/no failed, timed-out or cancelled stage/);
    const running = { ...state, conclusion: null };
    expect(() => rerunTargets(running, { stages: ["a"] })).toThrow(/still running/);
  });

  it("re-runs every instance of a matrix name", async () => {
    const { rerunTargets } = await import("../../src/saga/rerun.js");
    const { state } = simulate([stage("t[node=18]", { name: "t" }), stage("t[node=20]", { name: "t" }), stage("u")], {});
    expect(rerunTargets(state, { stages: ["t"] })).toEqual(["t[node=18]", "t[node=20]"]);
    expect(rerunTargets(state, { stages: ["t[node=20]"] })).toEqual(["t[node=20]"]);
  });
});

describe("decide: stages waiting for approval (SPEC 6)", () => {
  function planned(approvalRequired: string[]) {
    let seq = 0;
    const at = () => new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString();
    let state = initialState("r2", {
      type: "run.planned",
      seq: ++seq,
      at: at(),
      data: {
        pipeline: "ci",
        source: { kind: "directory", path: "/src" },
        repo: "a/b",
        sha: "abc",
        ref: "refs/pull/1/head",
        event: "pull_request",
        stages: [stage("build"), stage("deploy", { needs: ["build"], secrets: ["TOKEN"] }), stage("notify", { needs: ["deploy"] })],
        approvalRequired,
      },
    });
    const apply = (body: RunEventBody) => {
      state = applyEvent(state, { ...body, seq: ++seq, at: at() });
    };
    const settle = () => {
      for (let d = decide(state); d.length > 0; d = decide(state)) d.forEach(apply);
    };
    const runQueued = () => {
      for (const s of [...state.stages.values()].filter((x) => x.phase === "queued")) {
        apply({ type: "attempt.leased", data: { stageId: s.plan.id, attempt: s.attempt, agentId: "a1" } });
        apply({ type: "attempt.started", data: { stageId: s.plan.id, attempt: s.attempt, agentId: "a1" } });
        apply({ type: "attempt.finished", data: { stageId: s.plan.id, attempt: s.attempt, outcome: "success", exitCode: 0, reason: null } });
      }
      settle();
    };
    return { get state() { return state; }, apply, settle, runQueued };
  }

  it("does not queue an unapproved stage (nor its dependents) until run.approved, then runs them in the same run", () => {
    const run = planned(["deploy"]);
    run.settle();
    run.runQueued();
    expect(run.state.stages.get("build")?.conclusion).toBe("success");
    expect(run.state.stages.get("deploy")?.phase).toBe("pending");
    expect(waitingFor(run.state, run.state.stages.get("deploy")!)).toBe("approval");
    expect(waitingFor(run.state, run.state.stages.get("notify")!)).toBeNull();
    expect(stageStatus(run.state.stages.get("deploy")!)).toBe("queued");
    expect(decide(run.state)).toEqual([]);
    expect(run.state.conclusion).toBeNull();

    run.apply({ type: "run.approved", data: { by: "writer", sha: "abc" } });
    expect(decide(run.state)).toEqual([{ type: "stage.queued", data: { stageId: "deploy", attempt: 1 } }]);
    run.settle();
    run.runQueued();
    run.runQueued();
    expect(conclusions(run.state)).toEqual({ build: "success", deploy: "success", notify: "success" });
    expect(run.state.conclusion).toBe("success");
    expect(run.state.approvedBy).toBe("writer");
  });

  it("a cancel ends the waiting stages cancelled and concludes the run", () => {
    const run = planned(["deploy"]);
    run.settle();
    run.runQueued();
    run.apply({ type: "run.cancel_requested", data: { reason: "pull request closed" } });
    run.settle();
    expect(conclusions(run.state)).toEqual({ build: "success", deploy: "cancelled", notify: "cancelled" });
    expect(run.state.conclusion).toBe("cancelled");
  });

  it("a stage whose need failed is skipped without waiting for approval", () => {
    const run = planned(["deploy"]);
    run.settle();
    const build = run.state.stages.get("build")!;
    run.apply({ type: "attempt.leased", data: { stageId: "build", attempt: build.attempt, agentId: "a1" } });
    run.apply({ type: "attempt.started", data: { stageId: "build", attempt: build.attempt, agentId: "a1" } });
    run.apply({ type: "attempt.finished", data: { stageId: "build", attempt: build.attempt, outcome: "failure", exitCode: 1, reason: "exit code 1" } });
    run.settle();
    expect(conclusions(run.state)).toEqual({ build: "failure", deploy: "skipped", notify: "skipped" });
    expect(run.state.conclusion).toBe("failure");
  });

  it("the fold refuses an approval of another head, a second approval, one of a run that needs none, and an unknown stage", () => {
    const run = planned(["deploy"]);
    const approve = (sha: string, seq: number) => applyEvent(run.state, { type: "run.approved", data: { by: "w", sha }, seq, at: "2026-01-01T00:01:00.000Z" });
    expect(() => approve("def", run.state.seq + 1)).toThrow(CorruptHistoryError);
    run.apply({ type: "run.approved", data: { by: "w", sha: "abc" } });
    expect(() => approve("abc", run.state.seq + 1)).toThrow(/approved twice/);
    const none = planned([]);
    expect(() => applyEvent(none.state, { type: "run.approved", data: { by: "w", sha: "abc" }, seq: 2, at: "2026-01-01T00:01:00.000Z" })).toThrow(/needs none/);
    expect(() => planned(["nope"])).toThrow(/unknown stage nope/);
  });
});
