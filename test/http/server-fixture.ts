/** A control plane with real local agents and the HTTP app in front of it, listening on 127.0.0.1. */
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { buildHttpApp, type HttpAppOptions } from "../../src/http/app.js";
import type { PlannedStage } from "../../src/pipeline-parser/types.js";
import type { RunPlannedData } from "../../src/saga/events.js";
import { parseSecretsKey } from "../../src/secrets/key.js";
import { SecretStore } from "../../src/secrets/secret-store.js";
import { ControlPlane } from "../../src/server/control-plane.js";

export const ADMIN_TOKEN = "test-admin-token";
export const TEST_KEY = parseSecretsKey("ab".repeat(32), "test");

export interface TestServer {
  control: ControlPlane;
  app: FastifyInstance;
  base: string;
  secrets: SecretStore;
  /** `extra`: more of the run's plan, e.g. `approvalRequired` for stages that wait as a fork's would. */
  startRun(stages: PlannedStage[], repo?: string, extra?: Partial<RunPlannedData>): Promise<string>;
  stop(): Promise<void>;
}

export async function startTestServer(
  store: { databaseUrl?: string; dataDir: string },
  extra: Partial<HttpAppOptions> = {},
  agents = 2,
): Promise<TestServer> {
  const control = await ControlPlane.start({ ...store, localAgents: agents, leaseMs: 3000 });
  const secrets = new SecretStore(control.db, TEST_KEY);
  const app = buildHttpApp({
    db: control.db,
    webhookSecrets: {},
    engine: control.engine,
    adminToken: ADMIN_TOKEN,
    secrets,
    heartbeatMs: 500,
    ...extra,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const source = await mkdtemp(path.join(os.tmpdir(), "hodei-http-src-"));
  await writeFile(path.join(source, "hello.txt"), "hello\n");
  return {
    control,
    app,
    base: `http://127.0.0.1:${port}`,
    secrets,
    startRun: (stages, repo = "acme/widgets", extra = {}) =>
      control.engine.startRun({
        pipeline: "ci",
        source: { kind: "directory", path: source },
        repo,
        sha: "c0ffee".padEnd(40, "0"),
        ref: "refs/heads/main",
        event: "push",
        stages,
        ...extra,
      }),
    async stop() {
      await app.close();
      await control.stop();
    },
  };
}

export const bearer = { authorization: `Bearer ${ADMIN_TOKEN}` };
