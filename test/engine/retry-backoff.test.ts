/**
 * A failed attempt's retry waits its backoff (1 s, doubling: decide.ts
 * retryBackoffMs) on the engine's clock: on a virtual clock the next lease
 * comes exactly `delayMs` after the failure, not before, even with a free agent.
 */
import { expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.js";
import type { AgentLink } from "../../src/engine/ports.js";
import type { RunEvent } from "../../src/saga/events.js";
import { RunRepository } from "../../src/store/run-repository.js";
import { describeEachStore } from "../helpers/databases.js";
import { VirtualClock } from "../helpers/virtual-clock.js";
import { waitUntil } from "../helpers/wait-until.js";
import { stage } from "../saga/plan-stages.js";

describeEachStore("retry backoff", (store) => {
  it("leases a failed stage's next attempt delayMs after the failure on the engine's clock, not before", async () => {
    const db = await store.openMigrated();
    const clock = new VirtualClock();
    const events: RunEvent[] = [];
    const engine: Engine = new Engine({ store: new RunRepository(db), clock, leaseMs: 60_000 });
    engine.subscribe({ onEvents: (_s, e) => events.push(...e) });
    // An agent that is always free and fails every attempt at once.
    const link: AgentLink = {
      id: "failing-agent",
      labels: { provider: "local" },
      capacity: 1,
      assign: (a) => {
        void engine.attemptFinished(link.id, a, { outcome: "failure", exitCode: 1, reason: "exit 1" });
        return true;
      },
      cancel: () => undefined,
    };
    await engine.start();
    engine.agentConnected(link);
    try {
      const runId = await engine.startRun({
        pipeline: "p",
        source: { kind: "directory", path: "/nonexistent" },
        repo: "a/b",
        sha: "s",
        ref: null,
        event: "manual",
        stages: [stage("flaky", { retries: 2 })],
      });
      const leased = (attempt: number) => events.find((e) => e.type === "attempt.leased" && e.data.attempt === attempt);
      const queued = (attempt: number) => events.find((e) => e.type === "stage.queued" && e.data.attempt === attempt);
      const finished = (attempt: number) => events.find((e) => e.type === "attempt.finished" && e.data.attempt === attempt);

      for (const [attempt, delayMs] of [[2, 1000], [3, 2000]] as const) {
        await waitUntil(`attempt ${attempt} is queued`, () => queued(attempt) !== undefined);
        const retry = queued(attempt)!;
        expect(retry.type === "stage.queued" && retry.data.delayMs).toBe(delayMs);
        // Queued in the failure's own append, at its time.
        expect(retry.at).toBe(finished(attempt - 1)!.at);
        // The agent is free, yet nothing is leased before the backoff ends.
        await clock.advance(delayMs - 1);
        await new Promise((r) => setTimeout(r, 200));
        expect(leased(attempt)).toBeUndefined();
        await clock.advance(1);
        await waitUntil(`attempt ${attempt} is leased`, () => leased(attempt) !== undefined);
        expect(Date.parse(leased(attempt)!.at) - Date.parse(retry.at)).toBe(delayMs);
      }
      const final = await engine.waitForRun(runId);
      expect(final.conclusion).toBe("failure");
      expect(final.stages.get("flaky")!.attempt).toBe(3);
    } finally {
      await engine.stop();
    }
  });
});
