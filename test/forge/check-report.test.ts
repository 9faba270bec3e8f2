/**
 * What a stage's check says while it waits: a queued stage with `runs-on`
 * labels names the agent it waits for, in the title and the summary, so a
 * stage no connected agent can take is not silently queued (issue 19).
 */
import { expect, it } from "vitest";
import { stageCheck } from "../../src/forge/check-report.js";
import type { RunEvent } from "../../src/saga/events.js";
import { replay } from "../../src/saga/run-state.js";
import { stage } from "../saga/plan-stages.js";

const at = "2026-12-04T12:00:00.000Z";

function queuedRun() {
  const events: RunEvent[] = [
    {
      seq: 1,
      at,
      type: "run.planned",
      data: {
        pipeline: "ci",
        source: { kind: "git", url: "file:///nowhere", sha: "a".repeat(40) },
        repo: "acme/widgets",
        sha: "a".repeat(40),
        ref: "refs/heads/main",
        event: "push",
        stages: [stage("gpu", { runsOn: ["gpu", "arch=arm64"] }), stage("plain")],
      },
    },
    { seq: 2, at, type: "stage.queued", data: { stageId: "gpu", attempt: 1 } },
    { seq: 3, at, type: "stage.queued", data: { stageId: "plain", attempt: 1 } },
  ];
  return replay("r1", events);
}

it("a queued stage with runs-on says in its check which agent it waits for; one without says Queued", () => {
  const state = queuedRun();
  const gpu = stageCheck(state, state.stages.get("gpu")!, "http://hodei.test", null);
  expect(gpu).toMatchObject({ status: "queued", title: "Queued: waiting for an agent with gpu, arch=arm64" });
  expect(gpu.summary).toContain("**Runs on:** an agent with `gpu`, `arch=arm64`");
  const plain = stageCheck(state, state.stages.get("plain")!, "http://hodei.test", null);
  expect(plain.title).toBe("Queued");
  expect(plain.summary).not.toContain("Runs on");
});
