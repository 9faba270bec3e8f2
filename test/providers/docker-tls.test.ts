/**
 * The docker provider against a real Docker engine reached over TCP with TLS
 * (DOCKER_HOST=tcp://…, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH): a second engine
 * of the test's own, listening only on 127.0.0.1 and requiring client
 * certificates. The stage runs there, and only there, and its container goes
 * afterwards; a client without the certificates is refused by that engine.
 */
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { dockerConnectionOf } from "../../src/providers/docker-connection.js";
import { dockerEngineProblem } from "../../src/providers/docker.js";
import { loadProviderSettings } from "../../src/providers/provider-settings.js";
import type { ControlPlane } from "../../src/server/control-plane.js";
import { readStageLog } from "../../src/store/run-queries.js";
import { stage } from "../saga/plan-stages.js";
import { dockerUnavailable, ensureTestImage, hodeiContainers, TEST_IMAGE } from "./docker-engine.js";
import { startPlane, startRun, waitFor } from "./docker-plane.js";
import { startTlsDockerEngine, type TlsDockerEngine } from "./tls-docker-engine.js";

vi.setConfig({ testTimeout: 180_000, hookTimeout: 120_000 });

// Skipped only outside CI when no Docker engine answers (dockerUnavailable says why); in CI it runs and fails without dockerd.
describe.skipIf(dockerUnavailable !== null)(`docker provider over TCP with TLS${dockerUnavailable ? ` (skipped: ${dockerUnavailable})` : ""}`, () => {
  let engine: TlsDockerEngine;
  let tlsDocker: Docker;
  let control: ControlPlane | null = null;
  beforeAll(async () => {
    engine = await startTlsDockerEngine();
    tlsDocker = new Docker(dockerConnectionOf(engine.env).options);
    await ensureTestImage(tlsDocker);
  });
  afterAll(async () => {
    await control?.stop();
    await engine?.stop();
  });

  it("refuses a client without the certificates, and says where it looked when it does not answer", async () => {
    const plain = dockerConnectionOf({ DOCKER_HOST: engine.host, DOCKER_TLS_VERIFY: "0" });
    const problem = await dockerEngineProblem(plain);
    expect(problem).toMatch(new RegExp(`^no Docker engine answers at ${engine.host.replace(/[.]/g, "\\.")} without TLS: `));
    expect(await dockerEngineProblem(dockerConnectionOf(engine.env))).toBeNull();
  });

  it("runs a docker stage on the TLS engine, not on the local one, and removes its container", async () => {
    const settings = loadProviderSettings({ ...engine.env, HODEI_DOCKER_PULL: "never", HODEI_PROVISION_TIMEOUT: "90s" });
    control = await startPlane({ settings });
    const { id } = await startRun(control, [
      stage("remote", { provider: "docker", image: TEST_IMAGE, commands: ["test -f /.dockerenv", 'cat hello.txt; echo "ran as $HODEI_STAGE"'] }),
    ]);
    const seen = await waitFor("the stage's container on the TLS engine", async () => (await hodeiContainers(tlsDocker, id)).length > 0, 90_000);
    expect(seen).toBe(true);
    expect(await hodeiContainers(new Docker(), id)).toEqual([]);
    const final = await control.engine.waitForRun(id);
    const log = (await readStageLog(control.db, { runId: id, stageId: "remote" })).chunks.map((c) => c.data).join("");
    expect(final.stages.get("remote")?.reason ?? null, log).toBeNull();
    expect(final.conclusion).toBe("success");
    expect(log).toContain("hello from the checkout\nran as remote\n");
    await waitFor(`the containers of run ${id} to go`, async () => (await hodeiContainers(tlsDocker, id)).length === 0, 30_000);
  });
});
