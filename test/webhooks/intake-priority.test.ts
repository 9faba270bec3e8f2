/**
 * Webhook intake never waits behind processing (SPEC 3: stored, then 202,
 * within 2 s). The background work is stalled on purpose, and the intake
 * must still answer: on Postgres every connection of the main pool is held
 * by a transaction that does not end until the test says so; on the
 * embedded store, 30 loops keep the store process's queue full, and the
 * delivery's insert must not wait for the statements sent before it.
 */
import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterEach, expect, it } from "vitest";
import { buildHttpApp } from "../../src/http/app.js";
import type { Database } from "../../src/store/database.js";
import { migrate } from "../../src/store/migrate.js";
import { openDatabase } from "../../src/store/open.js";
import { getDelivery } from "../../src/webhooks/delivery-store.js";
import { signGithub } from "../../src/webhooks/signature.js";
import { describeEachStore } from "../helpers/databases.js";
import { githubExample, githubHeaders } from "./payloads.js";

const SECRET = "It's a Secret to Everybody";
let app: FastifyInstance | null = null;
let db: Database | null = null;
afterEach(async () => {
  await app?.close();
  await db?.close();
  app = db = null;
});

function push(id: string) {
  const body = JSON.stringify(githubExample("push"));
  return app!.inject({ method: "POST", url: "/webhooks/github", headers: githubHeaders("push", id, signGithub(SECRET, body)), payload: body });
}

describeEachStore("webhook intake while processing is stalled", (store) => {
  it("stores and answers a delivery while background work holds the store", async () => {
    // The store as the server opens it (on PGlite: the store process).
    db = await openDatabase(await store.create());
    await migrate(db);
    app = buildHttpApp({ db, webhookSecrets: { github: SECRET } });
    // Warm up (routes, the insert's first plan) before anything is counted.
    expect((await push(randomUUID())).statusCode).toBe(202);
    const id = randomUUID();
    // Statements of the background work that completed while the delivery waited for its answer.
    let completed = 0;
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    const background: Promise<unknown>[] = [];
    let running = true;
    if (store.kind === "postgres") {
      // Every connection of the main pool (10) in a transaction that waits for the test.
      for (let i = 0; i < 10; i++) background.push(db.transaction(async (tx) => (await tx.query("select 1"), held)).finally(() => completed++));
    } else {
      // 30 loops of 50 ms statements, each sending its next as the last one ends (as busy runs do).
      const busy = db;
      for (let i = 0; i < 30; i++) {
        background.push(
          (async () => {
            while (running) await busy.query("select pg_sleep(0.05)").then(() => completed++);
          })(),
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    // Ten deliveries one after another; each counts what completed while it waited.
    const ids = [id, ...Array.from({ length: 9 }, () => randomUUID())];
    const statuses: number[] = [];
    const waited: number[] = [];
    for (const d of ids) {
      const before = completed;
      statuses.push((await push(d)).statusCode);
      waited.push(completed - before);
    }
    running = false;
    release();
    await Promise.all(background);
    expect(statuses).toEqual(ids.map(() => 202));
    // Each went ahead of the work queued before it: in arrival order it waits for up to 30 statements.
    expect(Math.max(...waited), `statements completed while each delivery waited: ${waited.join(", ")}`).toBeLessThan(store.kind === "postgres" ? 1 : 6);
    expect(await getDelivery(db, { forge: "github", deliveryId: id })).toMatchObject({ status: "pending" });
  });
});
