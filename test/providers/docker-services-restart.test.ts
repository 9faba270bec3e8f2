/**
 * A real `hodei server` with the docker provider is SIGKILLed while a stage
 * with a service runs; the stage's container is killed too while the server
 * is down. The server started again on the same store removes the attempt's
 * container, service and network at start-up (its attempt was not
 * re-adopted), retries the attempt with a service of its own, and nothing
 * with the run's labels is left once the run completed.
 */
import Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { testStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { freePort, readHistories, seedRuns, startServer, type ServerProcess } from "../durability/crash-harness.js";
import { dockerUnavailable, ensureTestImage, hodeiContainers, TEST_IMAGE } from "./docker-engine.js";
import { waitFor } from "./docker-plane.js";
import { fakeDatabase, nothingLeft, runNetworks } from "./docker-services-helpers.js";
import { StageMarks } from "./stage-marks.js";

vi.setConfig({ testTimeout: 180_000 });
const docker = new Docker();
const marks = new StageMarks();
const servers: ServerProcess[] = [];

const serverEnv = { HODEI_PROVIDERS: "docker", HODEI_LOCAL_AGENTS: "0", HODEI_DOCKER_PULL: "never", HODEI_PROVISION_TIMEOUT: "60s", HODEI_LEASE_MS: "15000" };

async function sigkill(server: ServerProcess): Promise<void> {
  server.child.kill("SIGKILL");
  await server.exited;
}

describe.skipIf(dockerUnavailable !== null)(`docker services across a server SIGKILL${dockerUnavailable ? ` (skipped: ${dockerUnavailable})` : ""}`, () => {
  beforeAll(async () => {
    await ensureTestImage(docker);
    await marks.start();
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await sigkill(s);
  });
  afterAll(async () => {
    await marks.stop();
  });

  it("removes the services of an attempt that died with the server, and the retry gets its own", async () => {
    const where = await testStore("pglite").create();
    const [id] = await seedRuns(where, [
      { stages: [stage("itest", { provider: "docker", image: TEST_IMAGE, retries: 1, timeoutSeconds: 300, services: [fakeDatabase()], commands: ["nc db 5432 </dev/null | grep -x ready", ...marks.gated()] })] },
    ]);
    const ports = { http: await freePort(), grpc: await freePort() };
    const first = startServer(where, ports, serverEnv);
    servers.push(first);
    await first.ready;
    await waitFor("attempt 1 to start in its container", () => marks.of(id!, "start").length > 0, 60_000);
    await sigkill(first);
    // What the dead server left: the stage's container, the service's, the attempt's network.
    const left = await hodeiContainers(docker, id);
    expect(left.map((c) => c.Labels["hodei.service"] ?? "stage").sort()).toEqual(["db", "stage"]);
    expect((await runNetworks(id!)).length).toBe(1);
    await docker.getContainer(left.find((c) => c.Labels["hodei.service"] === undefined)!.Id).kill();
    const second = startServer(where, ports, serverEnv);
    servers.push(second);
    await second.ready;
    // The attempt's stage container, which takes its service's container and network along.
    expect(second.output()).toContain("docker provider: re-adopted 0, removed 1 left by an earlier process");
    expect((await hodeiContainers(docker, id)).filter((c) => c.Labels["hodei.attempt"] === "1")).toEqual([]);
    expect((await runNetworks(id!)).filter((n) => n.Labels?.["hodei.attempt"] === "1")).toEqual([]);
    marks.openGate(id!);
    await waitFor("the run to complete", async () => {
      const res = await fetch(`http://127.0.0.1:${ports.http}/api/runs/${id}`).catch(() => null);
      return res?.ok && ((await res.json()) as { status: string }).status === "completed";
    }, 90_000);
    // Released when the attempt ended, while the server runs.
    await nothingLeft(id!);
    second.child.kill("SIGTERM");
    await second.exited;
    const { state } = await readHistories(where, [id!]);
    const run = state.get(id!)!;
    expect(run.conclusion).toBe("success");
    expect(run.stages.get("itest")?.attempt).toBe(2);
    expect(marks.of(id!, "end").map((m) => m.attempt)).toEqual([2]);
  });
});
