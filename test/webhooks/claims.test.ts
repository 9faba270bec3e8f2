/**
 * Webhook claims with an owner and an expiry, on both stores: the claim SQL
 * (claim, renew, release of lapsed claims, the owner's fenced finish) and the
 * processor built on it, on a clock the test sets.
 */
import { randomUUID } from "node:crypto";
import { afterEach, expect, it } from "vitest";
import type { Database } from "../../src/store/database.js";
import {
  claimDeliveries,
  finishDelivery,
  insertDelivery,
  releaseLapsedClaims,
  renewClaims,
  type DeliveryKey,
} from "../../src/webhooks/delivery-store.js";
import { ClaimLostError, DeliveryProcessor } from "../../src/webhooks/processor.js";
import { describeEachStore } from "../helpers/databases.js";

const T0 = new Date("2026-12-01T10:00:00Z");
const at = (s: number) => new Date(T0.getTime() + s * 1000);

async function store(db: Database, n: number, repo = "octo/one"): Promise<DeliveryKey[]> {
  const keys: DeliveryKey[] = [];
  for (let i = 0; i < n; i++) {
    const key = { forge: "github" as const, deliveryId: randomUUID() };
    const payload = JSON.stringify({ repository: { full_name: repo }, n: i });
    await insertDelivery(db, { ...key, event: "push", payload }, at(i / 1000), { channel: "unheard", payload: "" });
    keys.push(key);
  }
  return keys;
}

async function claims(db: Database): Promise<{ delivery_id: string; status: string; claimed_by: string | null; claim_expires_at: Date | null }[]> {
  const { rows } = await db.query<{ delivery_id: string; status: string; claimed_by: string | null; claim_expires_at: Date | null }>(
    "select delivery_id, status, claimed_by, claim_expires_at from webhook_deliveries order by received_at",
  );
  return rows;
}

const processors: DeliveryProcessor[] = [];
afterEach(async () => {
  for (const p of processors.splice(0)) await p.stop();
});

describeEachStore("webhook claims", (s) => {
  it("a claim records its owner and expiry; a second claimer skips it; only the owner renews and finishes it", async () => {
    const db = await s.openMigrated();
    const [k1, k2] = await store(db, 2);
    const mine = await claimDeliveries(db, 1, { owner: "node-a", at: at(1), expiresAt: at(61) });
    expect(mine.map((d) => d.deliveryId)).toEqual([k1!.deliveryId]);
    const theirs = await claimDeliveries(db, 5, { owner: "node-b", at: at(2), expiresAt: at(62) });
    expect(theirs.map((d) => d.deliveryId)).toEqual([k2!.deliveryId]);
    expect(await claims(db)).toEqual([
      { delivery_id: k1!.deliveryId, status: "processing", claimed_by: "node-a", claim_expires_at: at(61) },
      { delivery_id: k2!.deliveryId, status: "processing", claimed_by: "node-b", claim_expires_at: at(62) },
    ]);
    // Renewal moves only the owner's own claims.
    expect(await renewClaims(db, "node-a", [k1!, k2!], at(90))).toEqual([k1]);
    expect((await claims(db)).map((c) => c.claim_expires_at)).toEqual([at(90), at(62)]);
    // A finish by anyone but the owner writes nothing.
    expect(await finishDelivery(db, k1!, "node-b", "done", "stolen", at(3))).toBe(false);
    expect(await finishDelivery(db, k1!, "node-a", "done", "started run r1", at(3))).toBe(true);
    expect((await claims(db))[0]).toMatchObject({ status: "done", claimed_by: null, claim_expires_at: null });
  });

  it("frees claims whose expiry lapsed and never a live one; a restarted owner frees its own at once", async () => {
    const db = await s.openMigrated();
    const [k1, k2, k3] = await store(db, 3);
    await claimDeliveries(db, 1, { owner: "node-a", at: at(0), expiresAt: at(30) });
    await claimDeliveries(db, 1, { owner: "node-b", at: at(0), expiresAt: at(60) });
    await claimDeliveries(db, 1, { owner: "node-c", at: at(0), expiresAt: at(60) });
    expect(await releaseLapsedClaims(db, at(29))).toBe(0);
    expect(await releaseLapsedClaims(db, at(31))).toBe(1);
    expect((await claims(db)).map((c) => [c.delivery_id, c.status, c.claimed_by])).toEqual([
      [k1!.deliveryId, "pending", null],
      [k2!.deliveryId, "processing", "node-b"],
      [k3!.deliveryId, "processing", "node-c"],
    ]);
    // node-a's late renewal and finish find nothing of theirs.
    expect(await renewClaims(db, "node-a", [k1!], at(90))).toEqual([]);
    expect(await finishDelivery(db, k1!, "node-a", "done", "late", at(32))).toBe(false);
    // node-c restarted under its identity: its claim goes back, node-b's live one stays.
    expect(await releaseLapsedClaims(db, at(32), "node-c")).toBe(1);
    expect((await claims(db)).map((c) => c.status)).toEqual(["pending", "processing", "pending"]);
    // A claim from before owners were recorded (no expiry) counts as lapsed.
    await db.query("update webhook_deliveries set claim_expires_at = null, claimed_by = null where delivery_id = $1", [k2!.deliveryId]);
    expect(await releaseLapsedClaims(db, at(33))).toBe(1);
  });

  it("a processor renews what it holds, a peer frees only lapsed claims, and the late owner learns it lost its claim", async () => {
    const db = await s.openMigrated();
    const [key] = await store(db, 1);
    let clock = at(0);
    let release: () => void = () => undefined;
    const handled: string[] = [];
    const lost: unknown[] = [];
    const a = new DeliveryProcessor({
      db,
      owner: "node-a",
      claimMs: 60_000,
      now: () => clock,
      onError: (e) => lost.push(e),
      handle: (d) =>
        new Promise((resolve) => {
          handled.push(`a:${d.deliveryId}`);
          release = () => resolve({ status: "done", outcome: "a" });
        }),
    });
    processors.push(a);
    await a.start();
    await expect.poll(() => handled.length).toBe(1);
    const b = new DeliveryProcessor({
      db,
      owner: "node-b",
      claimMs: 60_000,
      now: () => clock,
      handle: (d) => {
        handled.push(`b:${d.deliveryId}`);
        return Promise.resolve({ status: "done", outcome: "b" });
      },
    });
    processors.push(b);
    expect(await b.start()).toEqual({ recovered: 0 });
    // The live owner renews as time passes: the peer never takes the claim.
    for (const s2 of [50, 100, 150]) {
      clock = at(s2);
      await a.renew();
      expect(await b.sweep()).toBe(0);
    }
    expect((await claims(db))[0]).toMatchObject({ status: "processing", claimed_by: "node-a", claim_expires_at: at(210) });
    // node-a stops renewing (frozen); past the expiry the peer takes over.
    clock = at(211);
    expect(await b.sweep()).toBe(1);
    await expect.poll(() => handled).toEqual([`a:${key!.deliveryId}`, `b:${key!.deliveryId}`]);
    await b.idle();
    // node-a resumes: its renewal and its finish find the claim gone and say so.
    await a.renew();
    release();
    await a.idle();
    expect(lost).toHaveLength(2);
    expect(lost.every((e) => e instanceof ClaimLostError)).toBe(true);
    expect((await claims(db))[0]).toMatchObject({ status: "done", claimed_by: null });
    const { rows } = await db.query<{ outcome: string }>("select outcome from webhook_deliveries");
    expect(rows[0]?.outcome).toBe("b");
  });

  it("holds at most maxInFlight deliveries at once and claims more as they finish", async () => {
    const db = await s.openMigrated();
    const keys = [...(await store(db, 3, "octo/one")), ...(await store(db, 3, "octo/two"))];
    const waiting: (() => void)[] = [];
    let most = 0;
    const p = new DeliveryProcessor({
      db,
      owner: "node-a",
      maxInFlight: 2,
      handle: () =>
        new Promise((resolve) => {
          waiting.push(() => resolve({ status: "done", outcome: "ok" }));
        }),
    });
    processors.push(p);
    await p.start();
    let done = 0;
    while (done < keys.length) {
      await expect.poll(() => waiting.length, { timeout: 5000 }).toBeGreaterThan(0);
      const processing = (await claims(db)).filter((c) => c.status === "processing").length;
      most = Math.max(most, processing);
      waiting.shift()!();
      done++;
    }
    await p.idle();
    expect(most).toBe(2);
    expect((await claims(db)).every((c) => c.status === "done")).toBe(true);
  });
});
