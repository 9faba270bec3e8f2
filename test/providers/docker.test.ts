/**
 * The docker provider against a real Docker engine: stages run in
 * containers from an image built here, containers go afterwards, and every
 * way provisioning can fail ends the attempt with a reason.
 */
import Docker from "dockerode";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { ControlPlane } from "../../src/server/control-plane.js";
import { readStageLog } from "../../src/store/run-queries.js";
import { stage } from "../saga/plan-stages.js";
import { dockerUnavailable, ensureTestImage, hodeiContainers, TEST_IMAGE } from "./docker-engine.js";
import { startPlane, startRun, waitFor } from "./docker-plane.js";

const docker = new Docker();
// Each test starts a control plane on a fresh embedded Postgres (up to ~15 s on a busy machine) before any container.
vi.setConfig({ testTimeout: 120_000 });
let control: ControlPlane | null = null;
afterEach(async () => {
  await control?.stop();
  control = null;
});

// Skipped only outside CI when no Docker engine answers (dockerUnavailable says why); in CI they run and fail without one.
describe.skipIf(dockerUnavailable !== null)(`docker provider${dockerUnavailable ? ` (skipped: ${dockerUnavailable})` : ""}`, () => {
  beforeAll(async () => {
    await ensureTestImage(docker);
  });

  /** Lets a stage waiting for /tmp/inspected go on. */
  const release = async (containerId: string) => {
    const exec = await docker.getContainer(containerId).exec({ Cmd: ["touch", "/tmp/inspected"] });
    await exec.start({ Detach: true });
  };
  const gone = (runId: string) => waitFor(`the containers of run ${runId} to go`, async () => (await hodeiContainers(docker, runId)).length === 0, 15_000);

  it("runs a stage inside a container of the stage's image with the run's files, then removes the container", async () => {
    control = await startPlane({ settings: { resources: { cpus: 1.5, memoryBytes: 512 * 1024 ** 2 } } });
    const { id } = await startRun(control, [
      stage("inside", {
        provider: "docker",
        image: TEST_IMAGE,
        // The stage holds its container until the test has inspected it (a fixed sleep can end first on a loaded machine).
        commands: ["test -f /.dockerenv", `test ! -e ${process.execPath}`, 'cat hello.txt; echo "in $(hostname) as $HODEI_STAGE"', "until [ -e /tmp/inspected ]; do sleep 0.1; done"],
        // The stage's own memory over the server's (none here); cpus from the server's default.
        resources: { cpus: null, memoryBytes: 256 * 1024 ** 2 },
      }),
    ]);
    // Nothing of the server's host is mounted: the agent comes from the agent image's volume, the files over its connection.
    const [info] = await waitFor("the stage's container", async () => {
      const list = await hodeiContainers(docker, id);
      return list.length > 0 ? list : null;
    });
    const host = (await docker.getContainer(info!.Id).inspect()).HostConfig;
    expect(host.Binds ?? []).toEqual([]);
    expect(host.Memory).toBe(256 * 1024 ** 2);
    expect(host.NanoCpus).toBe(1.5e9);
    expect(host.VolumesFrom).toEqual([expect.stringMatching(/^hodei-agent-hodei-agent-[0-9a-f]{12}:ro$/)]);
    await release(info!.Id);
    const final = await control.engine.waitForRun(id);
    const log = (await readStageLog(control.db, { runId: id, stageId: "inside" })).chunks.map((c) => c.data).join("");
    expect(final.stages.get("inside")?.reason ?? null, log).toBeNull();
    expect(final.conclusion).toBe("success");
    expect(log).toContain("hello from the checkout\nin ");
    expect(log).toContain(" as inside\n");
    await gone(id);
  });

  it("ends the attempt as lost when its container is killed from outside, and retries it in a new container", async () => {
    control = await startPlane();
    const { id, events } = await startRun(control, [
      stage("victim", {
        provider: "docker",
        image: TEST_IMAGE,
        retries: 1,
        commands: ['if [ "$HODEI_ATTEMPT" = 1 ]; then echo waiting; sleep 120; fi; echo second attempt'],
      }),
    ]);
    await waitFor("attempt 1 to run", () => events.some((e) => e.type === "attempt.started" && e.data.attempt === 1));
    const [first] = await hodeiContainers(docker, id);
    expect(first?.Labels["hodei.attempt"]).toBe("1");
    await docker.getContainer(first!.Id).kill();
    const final = await control.engine.waitForRun(id);
    expect(final.conclusion).toBe("success");
    expect(final.stages.get("victim")?.attempt).toBe(2);
    const lost = events.find((e) => e.type === "attempt.finished" && e.data.attempt === 1);
    expect(lost?.type === "attempt.finished" && lost.data).toMatchObject({ outcome: "lost", reason: expect.stringMatching(/exited with status 137/) });
    await gone(id);
  });

  it("fails an attempt whose image is not available, naming the image", async () => {
    control = await startPlane();
    const { id, events } = await startRun(control, [stage("bad", { provider: "docker", image: "hodei-test/no-such-image:1", commands: ["true"] })]);
    const final = await control.engine.waitForRun(id);
    expect(final.conclusion).toBe("failure");
    const reason = 'image "hodei-test/no-such-image:1" is not available: not present and pulling is off (HODEI_DOCKER_PULL=never)';
    expect(final.stages.get("bad")?.reason).toBe(reason);
    // Ended as lost by the provisioner, which the history names.
    expect(events.filter((e) => e.type === "attempt.leased").map((e) => e.type === "attempt.leased" && e.data.agentId)).toEqual(["provisioner:docker"]);
    const ended = events.find((e) => e.type === "attempt.finished");
    expect(ended?.type === "attempt.finished" && ended.data).toMatchObject({ attempt: 1, outcome: "lost", reason });
    await gone(id);
  });

  it("ends the attempt within the provisioning timeout when the agent never connects", async () => {
    // Nothing listens on port 1: the agent in the container keeps failing to dial.
    control = await startPlane({ settings: { agentServer: "127.0.0.1:1", provisionTimeoutMs: 3000 } });
    const started = Date.now();
    const { id, events } = await startRun(control, [stage("silent", { provider: "docker", image: TEST_IMAGE, commands: ["true"] })]);
    const final = await control.engine.waitForRun(id);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(final.conclusion).toBe("failure");
    expect(events.some((e) => e.type === "attempt.started")).toBe(false);
    expect(final.stages.get("silent")?.reason).toMatch(/^the agent did not connect within 3 s of provisioning; container output: .*ECONNREFUSED/);
    await gone(id);
  });
});
