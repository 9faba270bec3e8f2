/**
 * when.status and max-parallel through the real engine and store, on a
 * virtual clock: each attempt takes 10 s of the engine's clock on a scripted
 * agent, so what runs when is read from the events' times.
 */
import { expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.js";
import type { AgentLink } from "../../src/engine/ports.js";
import type { RunEvent } from "../../src/saga/events.js";
import { RunRepository } from "../../src/store/run-repository.js";
import { describeEachStore } from "../helpers/databases.js";
import { VirtualClock } from "../helpers/virtual-clock.js";
import { stage } from "../saga/plan-stages.js";

const STAGE_MS = 10_000;

describeEachStore("outcome stages and max-parallel in the engine", (store) => {
  it("runs a failure stage after the failure, an always stage last, and at most max-parallel matrix instances at once", async () => {
    const db = await store.openMigrated();
    const clock = new VirtualClock();
    const events: RunEvent[] = [];
    const engine: Engine = new Engine({ store: new RunRepository(db), clock, leaseMs: 600_000 });
    engine.subscribe({ onEvents: (_s, e) => events.push(...e) });
    const running = new Set<string>();
    let mostTestsAtOnce = 0;
    const link: AgentLink = {
      id: "scripted-agent",
      labels: { provider: "local" },
      capacity: 8,
      assign: (a) => {
        running.add(a.stageId);
        mostTestsAtOnce = Math.max(mostTestsAtOnce, [...running].filter((id) => id.startsWith("test[")).length);
        void engine.attemptStarted(link.id, a);
        clock.setTimer(() => {
          running.delete(a.stageId);
          const outcome = a.stageId === "build" ? "failure" : "success";
          void engine.attemptFinished(link.id, a, { outcome, exitCode: outcome === "success" ? 0 : 1, reason: null });
        }, STAGE_MS);
        return true;
      },
      cancel: () => undefined,
    };
    await engine.start();
    engine.agentConnected(link);
    const tests = ["18", "20", "22", "24"].map((n) => stage(`test[node=${n}]`, { name: "test", matrix: { node: n }, maxParallel: 2 }));
    try {
      const runId = await engine.startRun({
        pipeline: "p",
        source: { kind: "directory", path: "/nonexistent" },
        repo: "a/b",
        sha: "s",
        ref: null,
        event: "manual",
        stages: [
          stage("build"),
          ...tests,
          stage("deploy", { needs: ["build"] }),
          stage("notify", { needs: ["build"], status: ["failure"] }),
          stage("cleanup", { needs: ["notify", ...tests.map((t) => t.id)], status: "always" }),
        ],
      });
      for (let i = 0; i < 10 && !events.some((e) => e.type === "run.completed"); i++) await clock.advance(STAGE_MS);
      const final = await engine.waitForRun(runId);
      const conclusions = Object.fromEntries([...final.stages.values()].map((s) => [s.plan.id, s.conclusion]));
      expect(conclusions).toEqual({
        build: "failure",
        "test[node=18]": "success",
        "test[node=20]": "success",
        "test[node=22]": "success",
        "test[node=24]": "success",
        deploy: "skipped",
        notify: "success",
        cleanup: "success",
      });
      expect(final.conclusion).toBe("failure");
      expect(mostTestsAtOnce).toBe(2);
      const leasedAt = (id: string) => Date.parse(events.find((e) => e.type === "attempt.leased" && e.data.stageId === id)!.at);
      const t0 = leasedAt("build");
      // Two test instances at a time: 0 s, 0 s, then 10 s, 10 s; notify when build has failed (10 s); cleanup when the tests and notify have ended (20 s).
      expect(tests.map((t) => leasedAt(t.id) - t0)).toEqual([0, 0, STAGE_MS, STAGE_MS]);
      expect(leasedAt("notify") - t0).toBe(STAGE_MS);
      expect(leasedAt("cleanup") - t0).toBe(2 * STAGE_MS);
    } finally {
      await engine.stop();
    }
  });

  it("fail-fast: when an instance fails, its running siblings are cancelled on their agents and those not started end cancelled", async () => {
    const db = await store.openMigrated();
    const clock = new VirtualClock();
    const events: RunEvent[] = [];
    const engine: Engine = new Engine({ store: new RunRepository(db), clock, leaseMs: 600_000 });
    engine.subscribe({ onEvents: (_s, e) => events.push(...e) });
    const cancels: [string, string][] = [];
    const timers = new Map<string, () => void>();
    const link: AgentLink = {
      id: "scripted-agent",
      labels: { provider: "local" },
      capacity: 8,
      assign: (a) => {
        void engine.attemptStarted(link.id, a);
        // node=18 fails after 10 s; the others would take 30 s.
        const fails = a.stageId === "test[node=18]";
        timers.set(
          a.stageId,
          clock.setTimer(() => {
            const outcome = fails ? "failure" : "success";
            void engine.attemptFinished(link.id, a, { outcome, exitCode: fails ? 1 : 0, reason: null });
          }, fails ? STAGE_MS : 3 * STAGE_MS),
        );
        return true;
      },
      cancel: (ref, reason) => {
        cancels.push([ref.stageId, reason]);
        timers.get(ref.stageId)?.();
        void engine.attemptFinished(link.id, ref, { outcome: "cancelled", exitCode: null, reason });
      },
    };
    await engine.start();
    engine.agentConnected(link);
    const tests = ["18", "20", "22", "24"].map((n) => stage(`test[node=${n}]`, { name: "test", matrix: { node: n }, maxParallel: 3, failFast: true }));
    try {
      const runId = await engine.startRun({
        pipeline: "p",
        source: { kind: "directory", path: "/nonexistent" },
        repo: "a/b",
        sha: "s",
        ref: null,
        event: "manual",
        stages: [...tests, stage("lint")],
      });
      for (let i = 0; i < 10 && !events.some((e) => e.type === "run.completed"); i++) await clock.advance(STAGE_MS);
      const final = await engine.waitForRun(runId);
      const conclusions = Object.fromEntries([...final.stages.values()].map((s) => [s.plan.id, s.conclusion]));
      expect(conclusions).toEqual({
        "test[node=18]": "failure",
        "test[node=20]": "cancelled",
        "test[node=22]": "cancelled",
        "test[node=24]": "cancelled",
        lint: "success",
      });
      expect(cancels).toEqual([
        ["test[node=20]", "fail-fast: test[node=18] failed"],
        ["test[node=22]", "fail-fast: test[node=18] failed"],
      ]);
      // node=24 never reached an agent: max-parallel held it back until the failure cancelled it.
      expect(events.some((e) => e.type === "attempt.leased" && e.data.stageId === "test[node=24]")).toBe(false);
      expect(final.stages.get("test[node=24]")!.reason).toBe("fail-fast: test[node=18] failed");
      expect(final.conclusion).toBe("failure");
      // Every instance ended when the failure did, not 30 s later (lint, unrelated, takes its 30 s).
      const endedAfter = (id: string) => Date.parse(final.stages.get(id)!.finishedAt!) - Date.parse(events[0]!.at);
      expect(tests.map((t) => endedAfter(t.id))).toEqual([STAGE_MS, STAGE_MS, STAGE_MS, STAGE_MS]);
      expect(endedAfter("lint")).toBe(3 * STAGE_MS);
    } finally {
      await engine.stop();
    }
  });
});
