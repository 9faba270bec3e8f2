/**
 * Recorded histories (test/fixtures/histories, dumped from real `hodei run`
 * runs) replayed through the current fold. A change that alters what an old
 * history means fails here; so does any mutation of a history, which must
 * either be refused as corrupt or derive a visibly different state.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { RunEvent } from "../../src/saga/events.js";
import { CorruptHistoryError, replay, runStatus, stageStatus, waitingFor, type RunState } from "../../src/saga/run-state.js";
import { decide } from "../../src/saga/decide.js";

interface Fixture {
  runId: string;
  events: RunEvent[];
}

const load = (name: string) =>
  JSON.parse(readFileSync(new URL(`../fixtures/histories/${name}.json`, import.meta.url), "utf8")) as Fixture;

function summary(state: RunState) {
  return {
    status: runStatus(state),
    conclusion: state.conclusion,
    approvedBy: state.approvedBy,
    stages: Object.fromEntries(
      [...state.stages.values()].map((s) => [
        s.plan.id,
        { status: stageStatus(s), conclusion: s.conclusion, attempt: s.attempt, exitCode: s.exitCode, reason: s.reason },
      ]),
    ),
  };
}

const expected: Record<string, ReturnType<typeof summary>> = {
  diamond: {
    status: "completed",
    approvedBy: null,
    conclusion: "success",
    stages: {
      prepare: { status: "completed", conclusion: "success", attempt: 1, exitCode: 0, reason: null },
      left: { status: "completed", conclusion: "success", attempt: 1, exitCode: 0, reason: null },
      right: { status: "completed", conclusion: "success", attempt: 1, exitCode: 0, reason: null },
      join: { status: "completed", conclusion: "success", attempt: 1, exitCode: 0, reason: null },
    },
  },
  failing: {
    status: "completed",
    approvedBy: null,
    conclusion: "failure",
    stages: {
      build: { status: "completed", conclusion: "failure", attempt: 1, exitCode: 3, reason: "exit code 3" },
      test: { status: "completed", conclusion: "skipped", attempt: 0, exitCode: null, reason: "needs build, which ended failure" },
      lint: { status: "completed", conclusion: "success", attempt: 1, exitCode: 0, reason: null },
      report: { status: "completed", conclusion: "success", attempt: 1, exitCode: 0, reason: null },
    },
  },
  flaky: {
    status: "completed",
    approvedBy: null,
    conclusion: "success",
    stages: {
      flaky: { status: "completed", conclusion: "success", attempt: 2, exitCode: 0, reason: null },
      after: { status: "completed", conclusion: "success", attempt: 1, exitCode: 0, reason: null },
    },
  },
  // A fork's pull request (test/triggers/github-fork-approval.test.ts): deploy lists a secret,
  // waits for `/hodei approve`, and runs in the same run after it; notify needs deploy.
  "fork-approval": {
    status: "completed",
    conclusion: "success",
    approvedBy: "writer",
    stages: {
      build: { status: "completed", conclusion: "success", attempt: 1, exitCode: 0, reason: null },
      deploy: { status: "completed", conclusion: "success", attempt: 1, exitCode: 0, reason: null },
      notify: { status: "completed", conclusion: "success", attempt: 1, exitCode: 0, reason: null },
    },
  },
};

describe("recorded history fork-approval: the wait before run.approved", () => {
  const fixture = load("fork-approval");
  const approvedAt = fixture.events.findIndex((e) => e.type === "run.approved");

  it("before the approval, deploy waits (queued, waitingFor approval), notify waits on it, and nothing follows", () => {
    const state = replay(fixture.runId, fixture.events.slice(0, approvedAt));
    expect(stageStatus(state.stages.get("deploy")!)).toBe("queued");
    expect(waitingFor(state, state.stages.get("deploy")!)).toBe("approval");
    expect(waitingFor(state, state.stages.get("notify")!)).toBeNull();
    expect(state.stages.get("build")?.conclusion).toBe("success");
    expect(runStatus(state)).toBe("in_progress");
    expect(decide(state)).toEqual([]);
  });

  it("after it, deploy is queued first", () => {
    const state = replay(fixture.runId, fixture.events.slice(0, approvedAt + 1));
    expect(waitingFor(state, state.stages.get("deploy")!)).toBeNull();
    expect(decide(state)).toEqual([{ type: "stage.queued", data: { stageId: "deploy", attempt: 1 } }]);
  });
});

describe.each(Object.keys(expected))("recorded history %s", (name) => {
  const fixture = load(name);

  it("replays to the recorded outcome", () => {
    const state = replay(fixture.runId, fixture.events);
    expect(summary(state)).toEqual(expected[name]);
    expect(state.seq).toBe(fixture.events.length);
    expect(decide(state)).toEqual([]);
  });

  it("replays every prefix without error, and the engine's decisions at each step match the history", () => {
    for (let n = 1; n < fixture.events.length; n++) {
      const state = replay(fixture.runId, fixture.events.slice(0, n));
      const next = fixture.events[n]!;
      // Whenever the history continued with a decision of the engine, decide() must make it again.
      if (next.type === "stage.completed" || next.type === "run.completed" || next.type === "stage.queued") {
        const decided = decide(state);
        expect(decided.map((e) => ({ type: e.type, data: e.data }))).toContainEqual({ type: next.type, data: next.data });
      }
    }
  });

  it("refuses or visibly changes under any single dropped event", () => {
    const baseline = JSON.stringify(summary(replay(fixture.runId, fixture.events)));
    for (let i = 0; i < fixture.events.length; i++) {
      const mutated = fixture.events.filter((_, j) => j !== i).map((e, j) => ({ ...e, seq: j + 1 }));
      let outcome: string;
      try {
        outcome = JSON.stringify(summary(replay(fixture.runId, mutated)));
      } catch (error) {
        expect(error).toBeInstanceOf(CorruptHistoryError);
        continue;
      }
      expect(outcome, `dropping event ${i + 1} (${fixture.events[i]!.type}) went unnoticed`).not.toBe(baseline);
    }
  });

  it("refuses a history with a gap in its sequence numbers", () => {
    const gapped = fixture.events.map((e, i) => (i === 2 ? { ...e, seq: e.seq + 1 } : e));
    expect(() => replay(fixture.runId, gapped)).toThrow(CorruptHistoryError);
  });
});
