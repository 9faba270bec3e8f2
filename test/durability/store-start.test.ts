/**
 * Start-up against a store that is not there (issue 16), with real
 * `hodei server` processes: a private Postgres cluster that comes up 5 s
 * after the server started, a port nothing listens on, and a data directory
 * on a tmpfs too small for PGlite. The server waits, bounded by
 * HODEI_STORE_WAIT_MS, saying per attempt what it tried; it gives up with a
 * message naming the setting and exit code 69, never a stack.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startServer } from "./crash-harness.js";
import { PrivatePostgres, privatePostgresAvailable } from "../helpers/private-postgres.js";

const run = promisify(execFile);
const pgSuite = privatePostgresAvailable || process.env.CI ? describe : describe.skip;

pgSuite("start-up against a Postgres that is not up", () => {
  let cluster: PrivatePostgres;
  let dataDir: string;

  beforeAll(async () => {
    if (!privatePostgresAvailable) throw new Error("CI is set but /usr/lib/postgresql/15/bin/initdb is missing or we are not root");
    cluster = await PrivatePostgres.create(await freePort());
    await cluster.stop();
    dataDir = await mkdtemp(path.join(os.tmpdir(), "hodei-start-"));
  }, 120_000);

  afterAll(async () => {
    await cluster?.destroy();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("waits for a Postgres that comes up 5 s later, one line per attempt, and starts", { timeout: 120_000 }, async () => {
    const server = startServer({ databaseUrl: cluster.url, dataDir }, { http: await freePort(), grpc: await freePort() }, { HODEI_STORE_WAIT_MS: "60000", HODEI_LOCAL_AGENTS: "0" });
    try {
      const port = String(cluster.port);
      await expect.poll(() => server.output(), { timeout: 30_000, interval: 100 }).toContain(`store: Postgres at 127.0.0.1:${port}/test not reachable (connection refused), attempt 1;`);
      await new Promise((r) => setTimeout(r, 5000));
      expect(server.child.exitCode, "still waiting").toBeNull();
      await cluster.start();
      await server.ready;
      expect(server.output()).toMatch(/store: Postgres at 127\.0\.0\.1:\d+\/test answers \(attempt \d+/);
      expect(server.output(), "no stack").not.toMatch(/ECONNREFUSED|\n\s+at /);
    } finally {
      server.child.kill("SIGKILL");
      await server.exited;
    }
  });
});

describe("start-up against a store that cannot be used", () => {
  it("gives up on a port with nothing after HODEI_STORE_WAIT_MS, naming DATABASE_URL, with exit code 69", { timeout: 60_000 }, async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "hodei-start-"));
    const port = await freePort();
    const server = startServer({ databaseUrl: `postgres://postgres@127.0.0.1:${port}/nothing`, dataDir }, { http: await freePort(), grpc: await freePort() }, { HODEI_STORE_WAIT_MS: "1500", HODEI_LOCAL_AGENTS: "0" });
    try {
      expect(await server.exited).toBe(69);
      const out = server.output();
      expect(out).toContain(`store: Postgres at 127.0.0.1:${port}/nothing not reachable (connection refused), attempt 1;`);
      expect(out).toContain(`hodei: cannot reach the store: Postgres at 127.0.0.1:${port}/nothing (DATABASE_URL) did not answer within 1.5 s (HODEI_STORE_WAIT_MS)`);
      expect(out, "no stack").not.toMatch(/\n\s+at /);
    } finally {
      server.child.kill("SIGKILL");
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  const mountSuite = process.getuid?.() === 0 || process.env.CI ? it : it.skip;
  mountSuite("says so when the data directory is too small for PGlite, with exit code 69", { timeout: 120_000 }, async () => {
    const mountPoint = await mkdtemp(path.join(os.tmpdir(), "hodei-small-"));
    await run("mount", ["-t", "tmpfs", "-o", "size=5m", "tmpfs", mountPoint]);
    try {
      const server = startServer({ dataDir: mountPoint }, { http: await freePort(), grpc: await freePort() }, { HODEI_LOCAL_AGENTS: "0" });
      expect(await server.exited).toBe(69);
      const out = server.output();
      expect(out).toContain(`hodei: cannot start the embedded store: no space left on device in ${path.join(mountPoint, "pg")}; free space there or point HODEI_DATA_DIR at a larger disk`);
      expect(out).not.toContain("[object Object]");
      expect(out, "no stack").not.toMatch(/\n\s+at /);
    } finally {
      await run("umount", ["-l", mountPoint]);
      await rm(mountPoint, { recursive: true, force: true });
    }
  });
});
