/** Repository visibility from webhook deliveries (`repository.private`), which public reading relies on. */
import { randomUUID } from "node:crypto";
import { afterEach, expect, it } from "vitest";
import { insertDelivery } from "../../src/webhooks/delivery-store.js";
import { DeliveryProcessor } from "../../src/webhooks/processor.js";
import { describeEachStore } from "../helpers/databases.js";

/** Polls until `check` holds (10 s at most). */
async function eventually(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`never: ${what}`);
}

const processors: DeliveryProcessor[] = [];
afterEach(async () => {
  for (const p of processors.splice(0)) await p.stop();
});

describeEachStore("visibility from webhook deliveries", (s) => {
  it("a processed delivery records whether its repository is private; a later one changes it; payloads without it change nothing", async () => {
    const db = await s.openMigrated();
    const deliver = async (forge: "github" | "gitea", payload: unknown) =>
      insertDelivery(db, { forge, deliveryId: randomUUID(), event: "push", payload: JSON.stringify(payload) }, new Date(), { channel: "unheard", payload: "" });
    await deliver("github", { repository: { full_name: "acme/lib", private: false } });
    await deliver("gitea", { repository: { full_name: "acme/lib", private: true } });
    await deliver("github", { zen: "no repository here" });
    let handled = 0;
    const p = new DeliveryProcessor({ db, owner: "node-a", handle: () => (handled++, Promise.resolve({ status: "done", outcome: "ok" })) });
    processors.push(p);
    await p.start();
    await eventually("three deliveries handled", () => handled === 3);
    const rows = async () => (await db.query<{ forge: string; repo: string; private: boolean }>(`select forge, repo, private from repo_visibility order by forge`)).rows;
    await eventually("two visibility rows", async () => (await rows()).length === 2);
    expect(await rows()).toEqual([
      { forge: "gitea", repo: "acme/lib", private: true },
      { forge: "github", repo: "acme/lib", private: false },
    ]);
    // A later delivery (picked up by the next processor's start) says it turned private.
    await p.stop();
    await deliver("github", { repository: { full_name: "acme/lib", private: true } });
    const q = new DeliveryProcessor({ db, owner: "node-a", handle: () => Promise.resolve({ status: "done", outcome: "ok" }) });
    processors.push(q);
    await q.start();
    await eventually("acme/lib private on github", async () => (await rows()).find((r) => r.forge === "github")?.private === true);
  });
});
