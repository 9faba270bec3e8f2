/**
 * `services:` on the docker provider against a real Docker engine: the
 * stage reaches its services by name, a service that is not ready (or
 * exits) fails the attempt naming it, and nothing with the run's labels
 * (containers, networks) is left afterwards. The services are busybox
 * (the tests' image, test/fixtures/images): `nc -ll -e` stands in for a
 * database that answers on 5432, `httpd` for a web service.
 */
import Docker from "dockerode";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { ControlPlane } from "../../src/server/control-plane.js";
import { readStageLog } from "../../src/store/run-queries.js";
import { stage } from "../saga/plan-stages.js";
import { dockerUnavailable, ensureTestImage, hodeiContainers, TEST_IMAGE } from "./docker-engine.js";
import { startPlane, startRun, waitFor } from "./docker-plane.js";
import { fakeDatabase, nothingLeft, runNetworks, service } from "./docker-services-helpers.js";

const docker = new Docker();
vi.setConfig({ testTimeout: 120_000 });
let control: ControlPlane | null = null;
afterEach(async () => {
  await control?.stop();
  control = null;
});

describe.skipIf(dockerUnavailable !== null)(`docker services${dockerUnavailable ? ` (skipped: ${dockerUnavailable})` : ""}`, () => {
  beforeAll(async () => {
    await ensureTestImage(docker);
  });

  it("starts the services first on the attempt's network; the stage reaches them by name; all go afterwards", async () => {
    control = await startPlane();
    const web = service("web", {
      command: ["sh", "-c", "echo web is starting; mkdir -p /srv && echo hello from web > /srv/index.html && exec httpd -f -p 8080 -h /srv"],
      env: { GREETING: "hi" },
      ready: { command: ["sh", "-c", "wget -q -O /dev/null http://127.0.0.1:8080/"] },
    });
    const { id, events } = await startRun(control, [
      stage("itest", {
        provider: "docker",
        image: TEST_IMAGE,
        services: [fakeDatabase(), web],
        commands: [
          "nc db 5432 </dev/null | grep -x ready",
          "wget -q -O - http://web:8080/",
          // Held until the test has looked at what runs (a fixed sleep can end first on a loaded machine).
          "until [ -e /tmp/inspected ]; do sleep 0.1; done",
        ],
      }),
    ]);
    const list = await waitFor("the stage's container", async () => {
      const all = await hodeiContainers(docker, id);
      return all.some((c) => c.Labels["hodei.service"] === undefined) ? all : null;
    });
    // Both services, labelled like the stage's container, on one network of the attempt with the stage's labels.
    const services = list.filter((c) => c.Labels["hodei.service"] !== undefined);
    expect(services.map((c) => c.Labels["hodei.service"]).sort()).toEqual(["db", "web"]);
    for (const c of services) expect(c.Labels).toMatchObject({ "hodei.managed": "true", "hodei.run": id, "hodei.stage": "itest", "hodei.attempt": "1" });
    const networks = await runNetworks(id);
    expect(networks.map((n) => n.Labels)).toEqual([expect.objectContaining({ "hodei.run": id, "hodei.stage": "itest", "hodei.attempt": "1" })]);
    const webInfo = await docker.getContainer(services.find((c) => c.Labels["hodei.service"] === "web")!.Id).inspect();
    expect(webInfo.Config.Env).toContain("GREETING=hi");
    expect(webInfo.NetworkSettings.Networks[networks[0]!.Name]?.Aliases).toContain("web");
    const stageContainer = list.find((c) => c.Labels["hodei.service"] === undefined)!;
    const host = (await docker.getContainer(stageContainer.Id).inspect()).HostConfig;
    // The stage keeps the host network (its agent reaches the server on 127.0.0.1); the names come from /etc/hosts.
    expect(host.NetworkMode).toBe("host");
    expect(host.ExtraHosts).toEqual([expect.stringMatching(/^db:\d+\.\d+\.\d+\.\d+$/), expect.stringMatching(/^web:\d+\.\d+\.\d+\.\d+$/)]);
    await (await docker.getContainer(stageContainer.Id).exec({ Cmd: ["touch", "/tmp/inspected"] })).start({ Detach: true });
    const final = await control.engine.waitForRun(id);
    const log = (await readStageLog(control.db, { runId: id, stageId: "itest" })).chunks.map((c) => c.data).join("");
    expect(final.stages.get("itest")?.reason ?? null, log).toBeNull();
    expect(final.conclusion).toBe("success");
    expect(log).toContain("ready\n");
    expect(log).toContain("hello from web\n");
    expect(events.filter((e) => e.type === "attempt.finished").map((e) => e.type === "attempt.finished" && e.data.outcome)).toEqual(["success"]);
    await nothingLeft(id);
    // The services' output follows the stage's own in its log, appended when the attempt ended.
    const full = (await readStageLog(control.db, { runId: id, stageId: "itest" })).chunks.map((c) => c.data).join("");
    expect(full.startsWith(log)).toBe(true);
    expect(full.slice(log.length)).toBe(
      "\n--- service db: its output (last 200 lines at most) ---\n" + "\n--- service web: its output (last 200 lines at most) ---\nweb is starting\n",
    );
  });

  it("fails the attempt naming a service whose port never accepts a connection, with its last output, and starts no stage", async () => {
    control = await startPlane();
    const started = Date.now();
    const { id, events } = await startRun(control, [
      stage("itest", {
        provider: "docker",
        image: TEST_IMAGE,
        services: [fakeDatabase("cache"), service("db", { command: ["sh", "-c", "echo db is starting; exec sleep 600"], ports: [5432], ready: { port: 5432 }, readyTimeoutSeconds: 3 })],
        commands: ["true"],
      }),
    ]);
    const final = await control.engine.waitForRun(id);
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(final.conclusion).toBe("failure");
    expect(final.stages.get("itest")?.reason).toMatch(/^service "db" was not ready within 3 s: port 5432: \S+:5432 accepted no connection within 3 s: ECONNREFUSED; its last output: db is starting$/);
    expect(events.some((e) => e.type === "attempt.started")).toBe(false);
    await nothingLeft(id);
    // No agent ran: the stage's log is the services' output.
    const log = (await readStageLog(control.db, { runId: id, stageId: "itest" })).chunks.map((c) => c.data).join("");
    expect(log).toContain("\n--- service db: its output (last 200 lines at most) ---\ndb is starting\n");
  });

  it("fails the attempt naming a service whose ready command never succeeds, or that exits", async () => {
    control = await startPlane();
    // Two runs: a failed stage may end its run's other stages before they fail on their own.
    const never = await startRun(control, [
      stage("never", {
        provider: "docker",
        image: TEST_IMAGE,
        services: [service("queue", { command: ["sleep", "600"], ready: { command: ["sh", "-c", "echo not yet; exit 3"] }, readyTimeoutSeconds: 2 })],
        commands: ["true"],
      }),
    ]);
    const exits = await startRun(control, [
      stage("exits", {
        provider: "docker",
        image: TEST_IMAGE,
        services: [service("broken", { command: ["sh", "-c", "echo bad configuration >&2; exit 4"], ports: [5432] })],
        commands: ["true"],
      }),
    ]);
    const [first, second] = await Promise.all([control.engine.waitForRun(never.id), control.engine.waitForRun(exits.id)]);
    expect(first.conclusion).toBe("failure");
    expect(first.stages.get("never")?.reason).toBe('service "queue" was not ready within 2 s: the ready command ["sh","-c","echo not yet; exit 3"] exited with status 3 (not yet)');
    expect(second.conclusion).toBe("failure");
    expect(second.stages.get("exits")?.reason).toMatch(/^service "broken" exited with status 4 before it was ready; its last output: bad configuration$/);
    await nothingLeft(never.id);
    await nothingLeft(exits.id);
  });

  it("fails the attempt naming a service whose image is not available", async () => {
    control = await startPlane();
    const { id } = await startRun(control, [
      stage("itest", { provider: "docker", image: TEST_IMAGE, services: [service("db", { image: "hodei-test/no-such-db:1" })], commands: ["true"] }),
    ]);
    const final = await control.engine.waitForRun(id);
    expect(final.stages.get("itest")?.reason).toBe('service "db": image "hodei-test/no-such-db:1" is not available: not present and pulling is off (HODEI_DOCKER_PULL=never)');
    await nothingLeft(id);
  });
});
