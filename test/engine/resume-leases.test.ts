/**
 * An engine that resumes a run whose attempt was running when its previous
 * process died gives the agent a whole lease period counted from
 * `agentsReady()` (agents can reach it), however long its start took; on a
 * virtual clock, a start longer than the lease loses nothing.
 */
import { expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.js";
import type { RunEvent } from "../../src/saga/events.js";
import { RunRepository } from "../../src/store/run-repository.js";
import type { Database } from "../../src/store/database.js";
import { describeEachStore } from "../helpers/databases.js";
import { VirtualClock } from "../helpers/virtual-clock.js";
import { stage } from "../saga/plan-stages.js";

const LEASE_MS = 15_000;

/** A run whose one stage is running on "agent-x", owned by a process that is gone. */
async function orphanedRun(db: Database): Promise<{ runId: string; ref: { runId: string; stageId: string; attempt: number } }> {
  const repo = new RunRepository(db, { owner: "a-process-that-died", ownershipMs: 1 });
  const runId = `resume-${Date.now()}`;
  const at = new Date().toISOString();
  const state = await repo.create(
    runId,
    { type: "run.planned", data: { pipeline: "p", source: { kind: "directory", path: "/nonexistent" }, repo: "a/b", sha: "s", ref: null, event: "manual", stages: [stage("long")] } },
    at,
  );
  const ref = { runId, stageId: "long", attempt: 1 };
  await repo.append(
    state,
    [
      { type: "stage.queued", data: { stageId: "long", attempt: 1 } },
      { type: "attempt.leased", data: { stageId: "long", attempt: 1, agentId: "agent-x" } },
      { type: "attempt.started", data: { stageId: "long", attempt: 1, agentId: "agent-x" } },
    ],
    at,
    "external",
  );
  return { runId, ref };
}

describeEachStore("resumed leases", (store) => {
  for (const ready of ["later", "at start"] as const) {
    it(`${ready === "later" ? "holds" : "runs"} a resumed attempt's lease during a start longer than the lease (agents ready ${ready})`, async () => {
      const db = await store.openMigrated();
      const { runId, ref } = await orphanedRun(db);
      await new Promise((r) => setTimeout(r, 20)); // the dead owner's ownership lapses
      const clock = new VirtualClock();
      const events: RunEvent[] = [];
      const engine = new Engine({ store: new RunRepository(db), clock, leaseMs: LEASE_MS });
      engine.subscribe({ onEvents: (_s, e) => events.push(...e) });
      const { resumed } = await engine.start({ agentsReadyLater: ready === "later" });
      try {
        expect(resumed).toEqual([runId]);
        // The rest of a slow start: the listener, local agents... 2 leases long.
        await clock.advance(2 * LEASE_MS);
        const lost = () => events.some((e) => e.type === "attempt.finished" && e.data.outcome === "lost");
        if (ready === "at start") {
          // Without the hold, the agent's lease ran out while it could not reach the server.
          expect(lost()).toBe(true);
          return;
        }
        expect(lost()).toBe(false);
        engine.agentsReady();
        // The agent needs a while to reconnect (its backoff), less than a lease.
        await clock.advance(LEASE_MS - 1000);
        expect(lost()).toBe(false);
        expect(await engine.attemptFinished("agent-x", ref, { outcome: "success", exitCode: 0, reason: null })).toBe(true);
        expect((await engine.waitForRun(runId)).conclusion).toBe("success");
      } finally {
        await engine.stop();
      }
    });
  }
});
