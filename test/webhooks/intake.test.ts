/**
 * The webhook endpoints on both stores: signatures on the raw body, status
 * codes, durable storage before the answer, duplicate deliveries, and
 * processing after the answer that survives a crash in between.
 */
import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import { afterEach, expect, it } from "vitest";
import { buildHttpApp } from "../../src/http/app.js";
import type { Database } from "../../src/store/database.js";
import { getDelivery, type StoredDelivery } from "../../src/webhooks/delivery-store.js";
import { DeliveryProcessor } from "../../src/webhooks/processor.js";
import { signGitea, signGithub } from "../../src/webhooks/signature.js";
import { describeEachStore } from "../helpers/databases.js";
import { giteaFixture, giteaHeaders, githubExample, githubHeaders } from "./payloads.js";

const SECRET = "It's a Secret to Everybody";
let app: FastifyInstance | null = null;
let processor: DeliveryProcessor | null = null;
afterEach(async () => {
  await processor?.stop();
  await app?.close();
  app = processor = null;
});

async function count(db: Database): Promise<number> {
  const { rows } = await db.query<{ n: number }>("select count(*)::int as n from webhook_deliveries");
  return rows[0]?.n ?? -1;
}

function githubPush(app: FastifyInstance, id: string, secret = SECRET, body = JSON.stringify(githubExample("push"))) {
  return app.inject({ method: "POST", url: "/webhooks/github", headers: githubHeaders("push", id, signGithub(secret, body)), payload: body });
}

describeEachStore("webhook intake", (store) => {
  it("stores a signed GitHub delivery before answering 202; the same delivery id again is 200 and stored once", async () => {
    const db = await store.openMigrated();
    app = buildHttpApp({ db, webhookSecrets: { github: SECRET } });
    const id = randomUUID();
    const first = await githubPush(app, id);
    expect(first.statusCode).toBe(202);
    expect(await getDelivery(db, { forge: "github", deliveryId: id })).toMatchObject({ status: "pending", attempts: 0 });
    const again = await githubPush(app, id);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ duplicate: true });
    expect(await count(db)).toBe(1);
  });

  it("answers 401 and stores nothing for a bad, missing or wrong-format signature", async () => {
    const db = await store.openMigrated();
    app = buildHttpApp({ db, webhookSecrets: { github: SECRET, gitea: SECRET } });
    expect((await githubPush(app, randomUUID(), "wrong secret")).statusCode).toBe(401);
    const body = JSON.stringify(githubExample("push"));
    const unsigned = await app.inject({ method: "POST", url: "/webhooks/github", headers: { "content-type": "application/json", "x-github-delivery": "x", "x-github-event": "push" }, payload: body });
    expect(unsigned.statusCode).toBe(401);
    // The signature is checked on the exact bytes: re-serialised JSON does not match.
    const tampered = await app.inject({
      method: "POST",
      url: "/webhooks/github",
      headers: githubHeaders("push", "y", signGithub(SECRET, body)),
      payload: JSON.stringify(JSON.parse(body), null, 1),
    });
    expect(tampered.statusCode).toBe(401);
    const gitea = await app.inject({
      method: "POST",
      url: "/webhooks/gitea",
      headers: giteaHeaders("push", "push", "z", `sha256=${signGitea(SECRET, body)}`),
      payload: body,
    });
    expect(gitea.statusCode).toBe(401);
    expect(await count(db)).toBe(0);
  });

  it("accepts deliveries signed with an older secret during rotation", async () => {
    const db = await store.openMigrated();
    app = buildHttpApp({ db, webhookSecrets: { github: ["new secret", SECRET], gitea: ["new", SECRET] } });
    expect((await githubPush(app, randomUUID(), SECRET)).statusCode).toBe(202);
    expect((await githubPush(app, randomUUID(), "new secret")).statusCode).toBe(202);
    expect((await githubPush(app, randomUUID(), "retired secret")).statusCode).toBe(401);
  });

  it("takes Gitea deliveries by X-Gitea-Signature and refuses them on the GitHub endpoint", async () => {
    const db = await store.openMigrated();
    app = buildHttpApp({ db, webhookSecrets: { github: SECRET, gitea: SECRET } });
    const body = JSON.stringify(giteaFixture("push"));
    const id = randomUUID();
    const headers = giteaHeaders("push", "push", id, signGitea(SECRET, body));
    expect((await app.inject({ method: "POST", url: "/webhooks/gitea", headers, payload: body })).statusCode).toBe(202);
    expect(await getDelivery(db, { forge: "gitea", deliveryId: id })).toMatchObject({ status: "pending" });
    const misrouted = await app.inject({ method: "POST", url: "/webhooks/github", headers: { ...headers, "x-github-delivery": randomUUID() }, payload: body });
    expect(misrouted.statusCode).toBe(400);
    expect(misrouted.json<{ error: string }>().error).toContain("/webhooks/gitea");
  });

  it("answers 400 for malformed deliveries, 415 for other content types, 503 when the forge is not configured", async () => {
    const db = await store.openMigrated();
    app = buildHttpApp({ db, webhookSecrets: { github: SECRET } });
    const bad = "{not json";
    expect((await app.inject({ method: "POST", url: "/webhooks/github", headers: githubHeaders("push", "a", signGithub(SECRET, bad)), payload: bad })).statusCode).toBe(400);
    const arr = "[1]";
    expect((await app.inject({ method: "POST", url: "/webhooks/github", headers: githubHeaders("push", "b", signGithub(SECRET, arr)), payload: arr })).statusCode).toBe(400);
    const body = JSON.stringify(githubExample("push"));
    const noEvent = { ...githubHeaders("push", "c", signGithub(SECRET, body)), "x-github-event": "" };
    const missing = await app.inject({ method: "POST", url: "/webhooks/github", headers: noEvent, payload: body });
    expect(missing.statusCode).toBe(400);
    expect(missing.json<{ error: string }>().error).toContain("x-github-event");
    const text = await app.inject({ method: "POST", url: "/webhooks/github", headers: { ...githubHeaders("push", "d", signGithub(SECRET, body)), "content-type": "text/plain" }, payload: body });
    expect(text.statusCode).toBe(415);
    const gitea = await app.inject({ method: "POST", url: "/webhooks/gitea", headers: giteaHeaders("push", "push", "e", signGitea(SECRET, body)), payload: body });
    expect(gitea.statusCode).toBe(503);
    expect(gitea.json<{ error: string }>().error).toContain("HODEI_GITEA_WEBHOOK_SECRET");
    expect(await count(db)).toBe(0);
  });

  it("refuses Hodei's own hodei.reconciled event from outside (400), even signed", async () => {
    const db = await store.openMigrated();
    app = buildHttpApp({ db, webhookSecrets: { github: SECRET } });
    const body = JSON.stringify({ repository: { full_name: "a/b", name: "b", owner: { login: "a" }, clone_url: "https://x/a/b.git" }, head: { kind: "push", ref: "refs/heads/main", after: "c".repeat(40) } });
    const res = await app.inject({ method: "POST", url: "/webhooks/github", headers: githubHeaders("hodei.reconciled", randomUUID(), signGithub(SECRET, body)), payload: body });
    expect(res.statusCode).toBe(400);
    expect(await count(db)).toBe(0);
  });

  it("accepts GitHub's form-encoded deliveries (payload=...)", async () => {
    const db = await store.openMigrated();
    app = buildHttpApp({ db, webhookSecrets: { github: SECRET } });
    const form = new URLSearchParams({ payload: JSON.stringify(githubExample("push")) }).toString();
    const headers = { ...githubHeaders("push", "f", signGithub(SECRET, form)), "content-type": "application/x-www-form-urlencoded" };
    expect((await app.inject({ method: "POST", url: "/webhooks/github", headers, payload: form })).statusCode).toBe(202);
  });

  it("processes a delivery after the answer, and picks up deliveries a crashed server left behind", async () => {
    const db = await store.openMigrated();
    app = buildHttpApp({ db, webhookSecrets: { github: SECRET } });
    // The server "crashed" after answering: no processor was running.
    const stored = randomUUID();
    expect((await githubPush(app, stored)).statusCode).toBe(202);
    // ... and one that a previous processor claimed but never finished.
    const halfDone = randomUUID();
    expect((await githubPush(app, halfDone)).statusCode).toBe(202);
    await db.query("update webhook_deliveries set status = 'processing', attempts = 1 where delivery_id = $1", [halfDone]);

    const seen: StoredDelivery[] = [];
    processor = new DeliveryProcessor({
      db,
      owner: "node-test",
      handle: (d) => {
        seen.push(d);
        return Promise.resolve({ status: "done", outcome: `handled ${d.event}` });
      },
    });
    expect(await processor.start()).toEqual({ recovered: 1 });
    await processor.idle();
    expect(seen.map((d) => d.deliveryId).sort()).toEqual([stored, halfDone].sort());
    expect(await getDelivery(db, { forge: "github", deliveryId: stored })).toMatchObject({ status: "done", outcome: "handled push", attempts: 1 });
    expect(seen.find((d) => d.deliveryId === stored)?.payload).toMatchObject({ ref: "refs/tags/simple-tag" });

    // A live delivery wakes the running processor through NOTIFY.
    const live = randomUUID();
    expect((await githubPush(app, live)).statusCode).toBe(202);
    await expect.poll(() => getDelivery(db, { forge: "github", deliveryId: live }).then((d) => d?.status), { timeout: 5000 }).toBe("done");
    expect(seen).toHaveLength(3);
  });

  it("retries a delivery whose handling throws, then marks it failed with the error", async () => {
    const db = await store.openMigrated();
    app = buildHttpApp({ db, webhookSecrets: { github: SECRET } });
    const id = randomUUID();
    await githubPush(app, id);
    let calls = 0;
    processor = new DeliveryProcessor({
      db,
      owner: "node-test",
      maxAttempts: 2,
      retryDelayMs: 10,
      onError: () => undefined,
      handle: () => {
        calls++;
        return Promise.reject(new Error("forge unreachable"));
      },
    });
    await processor.start();
    await expect.poll(() => getDelivery(db, { forge: "github", deliveryId: id }).then((d) => d?.status), { timeout: 5000 }).toBe("failed");
    expect(calls).toBe(2);
    expect(await getDelivery(db, { forge: "github", deliveryId: id })).toMatchObject({ outcome: "attempt 2: forge unreachable" });
  });
});
