/**
 * How many forge calls the push reconciler makes, on a virtual clock against
 * the local GitHub: only repositories active in the window, at most
 * `maxRepos` a pass (the ones listed longest ago first), and a rate-limited
 * answer ends the pass and puts the next one off for as long as GitHub asked.
 */
import { afterEach, expect, it } from "vitest";
import { GithubForge } from "../../src/forge/github.js";
import type { Database } from "../../src/store/database.js";
import { PushReconciler } from "../../src/triggers/push-reconciler.js";
import { insertDelivery } from "../../src/webhooks/delivery-store.js";
import { describeEachStore } from "../helpers/databases.js";
import { VirtualClock } from "../helpers/virtual-clock.js";
import type { Answer, FakeForge } from "../forge/fake-forge.js";
import { fakeGithub } from "../forge/fake-github.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

let github: FakeForge | null = null;
let reconciler: PushReconciler | null = null;
afterEach(async () => {
  await reconciler?.stop();
  await github?.stop();
  github = reconciler = null;
});

/** A stored push delivery of `repo` at `at` (nobody processes it here): activity. */
async function activity(db: Database, repo: string, at: Date): Promise<void> {
  const payload = JSON.stringify({ ref: "refs/heads/main", after: "a".repeat(40), repository: { full_name: repo, clone_url: `https://github.test/${repo}.git` } });
  await insertDelivery(db, { forge: "github", deliveryId: `${repo}-${at.getTime()}`, event: "push", payload }, at, { channel: "unused", payload: "" });
}

function listedRepos(g: FakeForge): string[] {
  return g.byOperation("repos/list-branches").map((r) => r.path.split("/").slice(2, 4).join("/"));
}

describeEachStore("push reconciler limits", (store) => {
  it("lists only repositories active in the window, at most maxRepos a pass, the ones listed longest ago first", async () => {
    const db = await store.openMigrated();
    const clock = new VirtualClock(Date.now());
    github = await fakeGithub({ permissions: new Map(), pulls: new Map(), branches: new Map([["main", "b".repeat(40)]]) }).start();
    await activity(db, "acme/one", new Date(clock.now().getTime() - 1 * HOUR));
    await activity(db, "acme/two", new Date(clock.now().getTime() - 2 * HOUR));
    await activity(db, "acme/three", new Date(clock.now().getTime() - 3 * HOUR));
    await activity(db, "acme/stale", new Date(clock.now().getTime() - 30 * HOUR));
    reconciler = new PushReconciler({
      db,
      forges: { github: new GithubForge({ apiUrl: github.url, auth: { kind: "token", token: "t" } }) },
      owner: "server-a",
      clock,
      intervalMs: 5 * MINUTE,
      windowMs: 24 * HOUR,
      maxRepos: 2,
    });
    reconciler.start();
    await clock.advance(0);
    await reconciler.idle();
    expect(listedRepos(github)).toEqual(["acme/one", "acme/two"]);
    await clock.advance(5 * MINUTE);
    await reconciler.idle();
    // The one never listed comes first, then the one listed longest ago.
    expect(listedRepos(github).slice(2)).toEqual(["acme/three", "acme/one"]);
    expect(listedRepos(github)).not.toContain("acme/stale");
    expect(github.violations).toEqual([]);
  });

  it("a rate-limited listing ends the pass and the next one waits as long as GitHub asked", async () => {
    const db = await store.openMigrated();
    const clock = new VirtualClock(Date.now());
    let limited = true;
    github = await fakeGithub({
      permissions: new Map(),
      pulls: new Map(),
      branches: new Map([["main", "b".repeat(40)]]),
      override: (req): Answer | undefined => (limited && req.operationId === "repos/list-branches" ? { status: 403, body: { message: "API rate limit exceeded" }, headers: { "retry-after": "1200" } } : undefined),
    }).start();
    await activity(db, "acme/one", clock.now());
    await activity(db, "acme/two", clock.now());
    const logs: string[] = [];
    reconciler = new PushReconciler({
      db,
      forges: { github: new GithubForge({ apiUrl: github.url, auth: { kind: "token", token: "t" } }) },
      owner: "server-a",
      clock,
      intervalMs: 5 * MINUTE,
      windowMs: 24 * HOUR,
      maxRepos: 10,
      log: (m) => logs.push(m),
    });
    reconciler.start();
    await clock.advance(0);
    await reconciler.idle();
    // The first answer was a rate limit: the second repository was not asked.
    expect(github.byOperation("repos/list-branches")).toHaveLength(1);
    expect(logs.join("\n")).toMatch(/403.*next pass in 1200 s at the earliest/);
    limited = false;
    await clock.advance(15 * MINUTE);
    await reconciler.idle();
    expect(github.byOperation("repos/list-branches")).toHaveLength(1);
    await clock.advance(5 * MINUTE);
    await reconciler.idle();
    expect(github.byOperation("repos/list-branches")).toHaveLength(3);
    expect(github.violations).toEqual([]);
  });
});
