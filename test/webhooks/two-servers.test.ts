/**
 * Two real `hodei server` processes on one Postgres, sharing its webhook
 * queue. A push whose clone URL is served by a TCP server that accepts and
 * never answers keeps its delivery in processing on the server that claimed
 * it: the other leaves that live claim alone, takes it over once the owner
 * is SIGKILLed and its claim lapsed, and records its own fetch's timeout as
 * the delivery's outcome.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import type { Database } from "../../src/store/database.js";
import { signGithub } from "../../src/webhooks/signature.js";
import { freePort, startServer, type ServerProcess } from "../durability/crash-harness.js";
import { describePostgres, tempDir } from "../helpers/databases.js";
import { githubExample, githubHeaders } from "./payloads.js";

const SECRET = "two servers";
const CLAIM_MS = 1500;
const servers: ServerProcess[] = [];
const tcp: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    if (s.child.exitCode === null && s.child.signalCode === null) {
      s.child.kill("SIGKILL");
      await s.exited;
    }
  }
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of tcp.splice(0)) await new Promise((r) => s.close(r));
});

async function hangingUrl(): Promise<string> {
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => undefined);
    socket.resume();
  });
  tcp.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const address = server.address();
  if (typeof address !== "object" || !address) throw new Error("no address");
  return `http://127.0.0.1:${address.port}/octo/hung.git`;
}

async function delivery(db: Database, id: string) {
  const { rows } = await db.query<{ status: string; claimed_by: string | null; outcome: string | null; attempts: number }>(
    "select status, claimed_by, outcome, attempts from webhook_deliveries where delivery_id = $1",
    [id],
  );
  return rows[0] ?? null;
}

describePostgres("two hodei servers sharing the webhook queue", (store) => {
  it("leave a live claim alone and take a killed server's delivery over once its claim lapsed", async () => {
    const db = await store.openMigrated();
    const { rows } = await db.query<{ name: string }>("select current_database() as name");
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${rows[0]!.name}`;
    const env = { HODEI_GITHUB_WEBHOOK_SECRET: SECRET, HODEI_WEBHOOK_CLAIM_MS: String(CLAIM_MS), HODEI_LOCAL_AGENTS: "0" };
    const start = async (name: string, extra: Record<string, string>) => {
      const dataDir = await tempDir(`hodei-${name}-`);
      const s = startServer({ databaseUrl: url.toString(), dataDir }, { http: await freePort(), grpc: await freePort() }, { ...env, ...extra });
      servers.push(s);
      await s.ready;
      // The node identity it claims under (src/server/node-id.ts).
      return { ...s, nodeId: (await readFile(path.join(dataDir, "node-id"), "utf8")).trim() };
    };
    // node-a's fetch would wait 10 min; node-b's gives up after 1 s.
    const a = await start("node-a", { HODEI_GIT_TIMEOUT_MS: "600000" });
    const port = Number(/127\.0\.0\.1:(\d+)\/webhooks\/github/.exec(a.output())?.[1] ?? NaN);
    expect(port).toBeGreaterThan(0);

    const cloneUrl = await hangingUrl();
    const payload = githubExample("push");
    Object.assign(payload, { ref: "refs/heads/main", before: "0".repeat(40), after: "1".repeat(40), deleted: false, created: false });
    Object.assign(payload.repository as Record<string, unknown>, { clone_url: cloneUrl });
    const body = JSON.stringify(payload);
    const id = randomUUID();
    const res = await fetch(`http://127.0.0.1:${port}/webhooks/github`, { method: "POST", headers: githubHeaders("push", id, signGithub(SECRET, body)), body });
    expect(res.status).toBe(202);
    await expect.poll(() => delivery(db, id), { timeout: 20_000 }).toMatchObject({ status: "processing", claimed_by: a.nodeId });

    const b = await start("node-b", { HODEI_GIT_TIMEOUT_MS: "1000" });
    expect(b.nodeId).not.toBe(a.nodeId);
    // Twice the claim's time with node-a alive and renewing: node-b takes nothing.
    await new Promise((r) => setTimeout(r, 2 * CLAIM_MS));
    expect(await delivery(db, id)).toMatchObject({ status: "processing", claimed_by: a.nodeId, attempts: 1 });

    a.child.kill("SIGKILL");
    await a.exited;
    // node-b re-queues the lapsed claim, works it off, and records why its fetch ended.
    await expect.poll(async () => (await delivery(db, id))?.status, { timeout: 30_000, interval: 200 }).toBe("failed");
    const done = await delivery(db, id);
    expect(done?.outcome).toBe(`attempt 3: git fetch of ${cloneUrl} timed out after 1 s`);
    expect(done?.attempts).toBe(3);
  });
});
