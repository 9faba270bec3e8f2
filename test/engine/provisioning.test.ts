/**
 * Per-attempt provisioning (docker, kubernetes): the engine asks the stage's
 * provider for an agent when no connected agent can take an attempt, the
 * agent provisioned for one attempt takes only that one, and the provider
 * is told to release it when the attempt is over.
 */
import { expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.js";
import type { AgentLink, Assignment, AttemptRef, Provisioner } from "../../src/engine/ports.js";
import { ATTEMPT_LABEL, attemptLabel } from "../../src/engine/agent-pool.js";
import type { PlannedStage } from "../../src/pipeline-parser/types.js";
import { RunRepository } from "../../src/store/run-repository.js";
import { describeEachStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";

/** A manual run of `stages` from a directory nothing reads (the agents here are stand-ins). */
function runOf(stages: PlannedStage[]) {
  return { pipeline: "p", source: { kind: "directory" as const, path: "/nonexistent" }, repo: "a/b", sha: "s", ref: null, event: "manual" as const, stages };
}

describeEachStore("provisioning", (store) => {
  it("provisions one agent per attempt, hands it only that attempt, and releases it afterwards", async () => {
    const db = await store.openMigrated();
    const calls: string[] = [];
    const provisioner: Provisioner = {
      provision(ref: AttemptRef, planned: PlannedStage) {
        calls.push(`provision ${ref.stageId}#${ref.attempt} ${planned.image}`);
        // Like a container coming up and dialing back, a moment later.
        setTimeout(() => {
          const assigned: Assignment[] = [];
          const link: AgentLink = {
            id: `agent-for-${ref.stageId}-${ref.attempt}`,
            labels: { provider: "docker", [ATTEMPT_LABEL]: attemptLabel(ref) },
            capacity: 1,
            assign: (a) => {
              assigned.push(a);
              calls.push(`assign ${a.stageId}#${a.attempt} to ${link.id}`);
              void (async () => {
                await engine.attemptStarted(link.id, a);
                await engine.attemptFinished(link.id, a, { outcome: a.attempt === 1 && a.stageId === "flaky" ? "failure" : "success", exitCode: 0, reason: null });
              })();
              return true;
            },
            cancel: () => undefined,
          };
          engine.agentConnected(link);
        }, 20);
      },
      release(ref: AttemptRef) {
        calls.push(`release ${ref.stageId}#${ref.attempt}`);
      },
    };
    const engine: Engine = new Engine({ store: new RunRepository(db), provisioners: { docker: provisioner }, leaseMs: 5000 });
    await engine.start();
    try {
      const id = await engine.startRun(
        runOf([
          stage("a", { provider: "docker", image: "alpine:3" }),
          stage("b", { provider: "docker", image: "alpine:3" }),
          stage("flaky", { provider: "docker", image: "busybox", needs: ["a"], retries: 1 }),
        ]),
      );
      const final = await engine.waitForRun(id);
      expect(final.conclusion).toBe("success");
      for (const [s, attempts] of [["a", [1]], ["b", [1]], ["flaky", [1, 2]]] as const) {
        for (const n of attempts) {
          expect(calls.filter((c) => c.startsWith(`provision ${s}#${n} `))).toHaveLength(1);
          expect(calls).toContain(`assign ${s}#${n} to agent-for-${s}-${n}`);
          expect(calls.indexOf(`release ${s}#${n}`)).toBeGreaterThan(calls.indexOf(`assign ${s}#${n} to agent-for-${s}-${n}`));
        }
      }
      // No agent ever got an attempt it was not provisioned for.
      expect(calls.filter((c) => c.startsWith("assign")).every((c) => /assign (\S+)#(\d) to agent-for-\1-\2$/.test(c))).toBe(true);
    } finally {
      await engine.stop();
    }
  });

  it("ends an attempt whose agent could not be provisioned as lost with the provider's reason, retried while retries remain", async () => {
    const db = await store.openMigrated();
    const provisioned: string[] = [];
    const released: string[] = [];
    const provisioner: Provisioner = {
      provision(ref: AttemptRef) {
        provisioned.push(`${ref.stageId}#${ref.attempt}`);
        setTimeout(() => void engine.provisioningFailed(ref, "docker", `image "nope:1" not found (attempt ${ref.attempt})`), 10);
      },
      release(ref: AttemptRef) {
        released.push(`${ref.stageId}#${ref.attempt}`);
      },
    };
    const engine: Engine = new Engine({ store: new RunRepository(db), provisioners: { docker: provisioner }, leaseMs: 5000 });
    await engine.start();
    try {
      const id = await engine.startRun(runOf([stage("img", { provider: "docker", image: "nope:1", retries: 1 })]));
      const final = await engine.waitForRun(id);
      expect(final.conclusion).toBe("failure");
      const s = final.stages.get("img")!;
      expect(s.conclusion).toBe("failure");
      expect(s.attempt).toBe(2);
      expect(s.reason).toBe('image "nope:1" not found (attempt 2)');
      expect(provisioned).toEqual(["img#1", "img#2"]);
      expect(released).toEqual(["img#1", "img#2"]);
      // A report for an attempt that is over changes nothing.
      expect(await engine.provisioningFailed({ runId: id, stageId: "img", attempt: 1 }, "docker", "late")).toBe(false);
    } finally {
      await engine.stop();
    }
  });

  it("releases, once, an attempt that was leased when the engine started: its worker may have been re-adopted", async () => {
    const db = await store.openMigrated();
    const calls: string[] = [];
    const recorder = (name: string): Provisioner => ({
      provision: (ref) => calls.push(`${name} provision ${ref.stageId}#${ref.attempt}`),
      release: (ref) => calls.push(`${name} release ${ref.stageId}#${ref.attempt}`),
    });
    // The agent in the worker: it takes the attempt and keeps running it across the restart.
    const link = (engine: Engine): AgentLink => ({
      id: "agent-in-worker",
      labels: { provider: "docker", [ATTEMPT_LABEL]: attemptLabel({ runId: id, stageId: "long", attempt: 1 }) },
      capacity: 1,
      assign: (a) => {
        void engine.attemptStarted("agent-in-worker", a).then(() => calls.push(`started ${a.stageId}#${a.attempt}`));
        return true;
      },
      cancel: () => undefined,
    });
    let id = "";
    const first: Engine = new Engine({ store: new RunRepository(db), provisioners: { docker: recorder("first") }, leaseMs: 5000 });
    await first.start();
    id = await first.startRun(runOf([stage("long", { provider: "docker", image: "alpine:3" })]));
    first.agentConnected(link(first));
    for (let i = 0; i < 100 && !calls.includes("started long#1"); i++) await new Promise((r) => setTimeout(r, 20));
    expect(calls).toEqual(["first provision long#1", "started long#1"]);
    // The process goes without releasing anything (as a crash would); the next one resumes the run.
    await first.stop();
    calls.length = 0;
    const second: Engine = new Engine({ store: new RunRepository(db), provisioners: { docker: recorder("second") }, leaseMs: 5000 });
    await second.start();
    try {
      second.agentConnected(link(second));
      expect(await second.attemptFinished("agent-in-worker", { runId: id, stageId: "long", attempt: 1 }, { outcome: "success", exitCode: 0, reason: null })).toBe(true);
      expect((await second.waitForRun(id)).conclusion).toBe("success");
      expect(calls).toEqual(["second release long#1"]);
    } finally {
      await second.stop();
    }
  });
});
