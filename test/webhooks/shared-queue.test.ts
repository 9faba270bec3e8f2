/**
 * Two servers' delivery processors, each a process of its own on its own
 * connections, sharing one webhook queue on one Postgres: every delivery is
 * handled exactly once, no live claim is taken, and the claims of a killed
 * server are taken over once they lapse.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterEach, expect, it } from "vitest";
import type { Database } from "../../src/store/database.js";
import { insertDelivery } from "../../src/webhooks/delivery-store.js";
import { DELIVERY_CHANNEL } from "../../src/webhooks/routes.js";
import { describePostgres } from "../helpers/databases.js";

const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const worker = fileURLToPath(new URL("./fixtures/claim-worker.ts", import.meta.url));
const CLAIM_MS = 1500;

interface Worker {
  child: ChildProcess;
  lines: string[];
}

const workers: Worker[] = [];
afterEach(async () => {
  for (const w of workers.splice(0)) {
    if (w.child.exitCode === null && w.child.signalCode === null) {
      w.child.kill("SIGKILL");
      await new Promise((r) => w.child.once("exit", r));
    }
  }
});

async function startWorker(databaseUrl: string, owner: string, mode: "record" | "hang", maxInFlight = 16): Promise<Worker> {
  const child = spawn(process.execPath, ["--import", tsx, worker], {
    env: { ...process.env, DATABASE_URL: databaseUrl, OWNER: owner, MODE: mode, CLAIM_MS: String(CLAIM_MS), MAX_IN_FLIGHT: String(maxInFlight) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const w: Worker = { child, lines: [] };
  workers.push(w);
  let buffered = "";
  child.stdout.on("data", (b: Buffer) => {
    buffered += b.toString("utf8");
    const parts = buffered.split("\n");
    buffered = parts.pop() ?? "";
    w.lines.push(...parts);
  });
  await expect.poll(() => w.lines.includes("ready") || child.exitCode !== null, { timeout: 30_000 }).toBe(true);
  expect(child.exitCode).toBeNull();
  return w;
}

async function deliver(db: Database, n: number, repos: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = randomUUID();
    const payload = JSON.stringify({ repository: { full_name: `octo/repo-${i % repos}` } });
    await insertDelivery(db, { forge: "github", deliveryId: id, event: "push", payload }, new Date(), { channel: DELIVERY_CHANNEL, payload: `github:${id}` });
    ids.push(id);
  }
  return ids;
}

async function statuses(db: Database): Promise<{ delivery_id: string; status: string; claimed_by: string | null }[]> {
  return (await db.query<{ delivery_id: string; status: string; claimed_by: string | null }>("select delivery_id, status, claimed_by from webhook_deliveries")).rows;
}

async function handled(db: Database): Promise<{ delivery_id: string; owner: string }[]> {
  return (await db.query<{ delivery_id: string; owner: string }>("select delivery_id, owner from handled_log")).rows;
}

describePostgres("two servers sharing the webhook queue", (store) => {
  it("handle every delivery exactly once between them", async () => {
    const db = await store.openMigrated();
    await db.query("create table handled_log (delivery_id text not null, owner text not null)");
    const url = await urlOf(db);
    const a = await startWorker(url, "node-a", "record", 4);
    const b = await startWorker(url, "node-b", "record", 4);
    const ids = await deliver(db, 60, 6);
    await expect.poll(async () => (await statuses(db)).filter((s) => s.status === "done").length, { timeout: 60_000, interval: 200 }).toBe(60);
    const rows = await handled(db);
    expect(rows.map((r) => r.delivery_id).sort()).toEqual([...ids].sort());
    // Both took part (each holds at most 4 at once, and both hear every NOTIFY).
    expect(new Set(rows.map((r) => r.owner))).toEqual(new Set(["node-a", "node-b"]));
    expect(a.child.exitCode).toBeNull();
    expect(b.child.exitCode).toBeNull();
  });

  it("leave a live server's claims alone and take a killed server's over after they lapse", async () => {
    const db = await store.openMigrated();
    await db.query("create table handled_log (delivery_id text not null, owner text not null)");
    const url = await urlOf(db);
    const a = await startWorker(url, "node-a", "hang");
    const ids = await deliver(db, 3, 3);
    await expect.poll(() => a.lines.filter((l) => l.startsWith("claimed ")).length, { timeout: 20_000 }).toBe(3);
    const b = await startWorker(url, "node-b", "record");
    // Twice the claim's time with node-a alive and renewing: node-b's sweeps free nothing.
    await new Promise((r) => setTimeout(r, 2 * CLAIM_MS));
    expect((await statuses(db)).map((s) => [s.status, s.claimed_by])).toEqual(ids.map(() => ["processing", "node-a"]));
    expect(await handled(db)).toEqual([]);
    a.child.kill("SIGKILL");
    await expect.poll(async () => (await statuses(db)).filter((s) => s.status === "done").length, { timeout: 30_000, interval: 200 }).toBe(3);
    const rows = await handled(db);
    expect(rows.map((r) => r.delivery_id).sort()).toEqual([...ids].sort());
    expect(rows.every((r) => r.owner === "node-b")).toBe(true);
    expect(b.child.exitCode).toBeNull();
  });
});

/** The connection string of the database `db` is on (the test helper creates one per open). */
async function urlOf(db: Database): Promise<string> {
  const { rows } = await db.query<{ name: string }>("select current_database() as name");
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${rows[0]!.name}`;
  return url.toString();
}
