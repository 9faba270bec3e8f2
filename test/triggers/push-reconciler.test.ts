/**
 * Pushes and pull request heads whose webhook never arrived, found by the
 * push reconciler (src/triggers/push-reconciler.ts) on a virtual clock and
 * built through the same delivery path as a webhook, against the local GitHub
 * (requests and listing answers checked against GitHub's OpenAPI
 * description) and the real server: the run's checks are reported, a late
 * webhook starts nothing more, branches that were there before Hodei first
 * listed the repository are not built, and two reconcilers on one Postgres
 * start a head's run once.
 */
import { afterEach, expect, it } from "vitest";
import { GithubForge } from "../../src/forge/github.js";
import { listRuns } from "../../src/store/run-queries.js";
import { PushReconciler } from "../../src/triggers/push-reconciler.js";
import { getDelivery } from "../../src/webhooks/delivery-store.js";
import { describeEachStore, describePostgres } from "../helpers/databases.js";
import { VirtualClock } from "../helpers/virtual-clock.js";
import type { FakeForge } from "../forge/fake-forge.js";
import type { GithubState } from "../forge/fake-github.js";
import { createRepo } from "../git/repos.js";
import { APP_AUTH, deliver, type Harness, pullRequestPayload, pushPayload, settle, startHarness } from "./github-harness.js";

const PIPELINE = `name: ci
stages:
  build:
    run: echo building
  test:
    needs: [build]
    run: echo testing
`;

const MINUTE = 60_000;
const settings = (clock: VirtualClock) => ({ intervalMs: 5 * MINUTE, windowMs: 24 * 60 * MINUTE, maxRepos: 10, clock });

let h: Harness | null = null;
afterEach(async () => {
  await h?.stop();
  h = null;
});

/** The last status GitHub got for each check created on `sha`, by check name. */
function finalChecks(github: FakeForge, sha: string): Record<string, string> {
  const ids = new Map<number, string>();
  const out: Record<string, string> = {};
  const statusOf = (body: Record<string, unknown>) => (body.status === "completed" ? `completed:${String(body.conclusion)}` : String(body.status));
  for (const r of github.requests) {
    if (r.operationId === "checks/create" && r.body.head_sha === sha) {
      const name = r.body.name as string;
      ids.set((r.answer?.body as { id: number }).id, name);
      out[name] = statusOf(r.body);
    } else if (r.operationId === "checks/update" && r.body.status) {
      const name = ids.get(Number(r.path.split("/")[5]));
      if (name) out[name] = statusOf(r.body);
    }
  }
  return out;
}

async function runsOf(h: Harness, sha: string) {
  return (await listRuns(h.control.db, { limit: 50 })).filter((r) => r.sha === sha);
}

/** Fires the reconciler's due timers and waits for its pass and for what it queued. */
async function reconcile(h: Harness, clock: VirtualClock, ms: number): Promise<void> {
  await clock.advance(ms);
  await h.control.forge?.reconciler.idle();
  await settle(h.control);
}

describeEachStore("push reconciler", (store) => {
  it("a push whose webhook never came is built after the next pass with its checks reported; the late webhook starts nothing more; old branches are not built, a branch made after the first listing is", async () => {
    const repo = await createRepo();
    const first = await repo.commit({ "README.md": "hi\n" });
    const c1 = await repo.commit({ ".hodei/pipeline.yml": PIPELINE });
    const clock = new VirtualClock(Date.now());
    const state: GithubState = { permissions: new Map(), pulls: new Map(), branches: new Map([["main", c1], ["old", first]]) };
    h = await startHarness(store, state, { reconcile: settings(clock) });
    // The webhook of the first push arrives: the repository is active, main known at c1.
    expect((await deliver(h.app, "push", pushPayload(repo, first, c1))).statusCode).toBe(202);
    await settle(h.control);

    // main moves to c2, its webhook is lost.
    const c2 = await repo.commit({ "src/a.txt": "2\n" });
    state.branches!.set("main", c2);
    await reconcile(h, clock, 0); // the pass at start
    const [run] = await runsOf(h, c2);
    expect(run).toMatchObject({ ref: "refs/heads/main", event: "push", status: "completed", conclusion: "success" });
    expect(finalChecks(h.github, c2)).toEqual({ "ci / build": "completed:success", "ci / test": "completed:success" });
    // `old` was there before Hodei first listed the repository: not built.
    expect(await runsOf(h, first)).toEqual([]);

    // The webhook turns up after all: the reconciled run stands for it.
    const late = await deliver(h.app, "push", pushPayload(repo, c1, c2), "4d0c3a1e-0000-4000-8000-00000000late");
    expect(late.statusCode).toBe(202);
    await settle(h.control);
    expect(await runsOf(h, c2)).toHaveLength(1);
    expect(await getDelivery(h.control.db, { forge: "github", deliveryId: "4d0c3a1e-0000-4000-8000-00000000late" })).toMatchObject({ status: "ignored", outcome: expect.stringMatching(/already seen \(reconciled delivery/) });

    // A branch made after the first listing, webhook lost too: built at the next pass, not before.
    const c3 = await repo.commit({ "src/b.txt": "3\n" });
    state.branches!.set("feature", c3);
    await reconcile(h, clock, MINUTE);
    expect(await runsOf(h, c3)).toEqual([]);
    await reconcile(h, clock, 4 * MINUTE);
    expect((await runsOf(h, c3)).map((r) => [r.ref, r.conclusion])).toEqual([["refs/heads/feature", "success"]]);
    expect(finalChecks(h.github, c3)).toEqual({ "ci / build": "completed:success", "ci / test": "completed:success" });

    // Nothing new: a further pass builds nothing more.
    await reconcile(h, clock, 5 * MINUTE);
    expect(await listRuns(h.control.db, { limit: 50 })).toHaveLength(3);
    expect(h.github.byOperation("repos/list-branches")).toHaveLength(3);
    expect(h.github.violations).toEqual([]);
  });

  it("a pull request head that moved without a webhook is built as the pull request's new head; the late synchronize starts nothing more", async () => {
    const repo = await createRepo();
    const base = await repo.commit({ "README.md": "hi\n" });
    repo.git("checkout", "--quiet", "-b", "feature");
    const head1 = await repo.commit({ ".hodei/pipeline.yml": PIPELINE });
    const clock = new VirtualClock(Date.now());
    const state: GithubState = { permissions: new Map(), pulls: new Map(), branches: new Map([["main", base]]) };
    h = await startHarness(store, state, { reconcile: settings(clock) });
    const opened = pullRequestPayload(repo, "opened", { number: 7, headSha: head1, baseSha: base, fork: false });
    expect((await deliver(h.app, "pull_request", opened)).statusCode).toBe(202);
    await settle(h.control);
    expect(await runsOf(h, head1)).toHaveLength(1);

    const head2 = await repo.commit({ "src/x.txt": "2\n" });
    repo.git("update-ref", "refs/pull/7/head", head2);
    state.pulls.set(7, { headSha: head2, headRef: opened.pull_request.head.ref as string, baseRef: "main", baseSha: base });
    await reconcile(h, clock, 0);
    const [run] = await runsOf(h, head2);
    expect(run).toMatchObject({ ref: "refs/pull/7/head", event: "pull_request", conclusion: "success" });
    expect(finalChecks(h.github, head2)).toEqual({ "ci / build": "completed:success", "ci / test": "completed:success" });
    // main was never pushed through Hodei: its head was only recorded as seen.
    expect(await runsOf(h, base)).toEqual([]);

    const sync = pullRequestPayload(repo, "synchronize", { number: 7, headSha: head2, baseSha: base, fork: false });
    expect((await deliver(h.app, "pull_request", sync, "4d0c3a1e-0000-4000-8000-0000000lsync")).statusCode).toBe(202);
    await settle(h.control);
    expect(await runsOf(h, head2)).toHaveLength(1);
    expect((await getDelivery(h.control.db, { forge: "github", deliveryId: "4d0c3a1e-0000-4000-8000-0000000lsync" }))?.status).toBe("ignored");
    expect(h.github.violations).toEqual([]);
  });

  it("a head whose webhook was handled before the pass gets no reconciled delivery: the webhook's run is the one", async () => {
    const repo = await createRepo();
    const first = await repo.commit({ "README.md": "hi\n" });
    const c1 = await repo.commit({ ".hodei/pipeline.yml": PIPELINE });
    const clock = new VirtualClock(Date.now());
    const state: GithubState = { permissions: new Map(), pulls: new Map(), branches: new Map([["main", c1]]) };
    h = await startHarness(store, state, { reconcile: settings(clock) });
    expect((await deliver(h.app, "push", pushPayload(repo, first, c1))).statusCode).toBe(202);
    await settle(h.control);
    await reconcile(h, clock, 0); // first listing: main at c1 is known, nothing to do

    const c2 = await repo.commit({ "src/a.txt": "2\n" });
    state.branches!.set("main", c2);
    // The webhook is handled first; the pass that lists main at c2 comes after it.
    expect((await deliver(h.app, "push", pushPayload(repo, c1, c2))).statusCode).toBe(202);
    await settle(h.control);
    await reconcile(h, clock, 5 * MINUTE);
    expect(await runsOf(h, c2)).toHaveLength(1);
    const { rows } = await h.control.db.query<{ n: number }>(`select count(*)::int as n from webhook_deliveries where event = 'hodei.reconciled'`);
    expect(rows[0]?.n).toBe(0);
  });
});

describePostgres("push reconciler, two servers", (store) => {
  it("two reconcilers on one Postgres queue a lost push once and it gets one run, however their passes interleave", async () => {
    const repo = await createRepo();
    const first = await repo.commit({ "README.md": "hi\n" });
    const c1 = await repo.commit({ ".hodei/pipeline.yml": PIPELINE });
    const state: GithubState = { permissions: new Map(), pulls: new Map(), branches: new Map([["main", c1]]) };
    h = await startHarness(store, state);
    expect((await deliver(h.app, "push", pushPayload(repo, first, c1))).statusCode).toBe(202);
    await settle(h.control);

    const c2 = await repo.commit({ "src/a.txt": "2\n" });
    state.branches!.set("main", c2);
    const clocks = [new VirtualClock(Date.now()), new VirtualClock(Date.now())];
    const reconcilers = ["server-a", "server-b"].map(
      (owner, i) => new PushReconciler({ db: h!.control.db, forges: { github: new GithubForge({ apiUrl: h!.github.url, auth: APP_AUTH }) }, owner, ...settings(clocks[i]!) }),
    );
    // Side by side: one of them lists the repository, the other leaves it to it.
    const results = await Promise.all(reconcilers.map((r) => r.pass()));
    expect(results.map((r) => r.scanned).sort()).toEqual([0, 1]);
    expect(results.flatMap((r) => r.stored)).toHaveLength(1);
    // The other one's next pass, before the delivery is handled or after: nothing more is queued.
    await clocks[1]!.advance(5 * MINUTE);
    const again = await reconcilers[1]!.pass();
    expect(again.stored).toEqual([]);
    await settle(h.control);
    await clocks[0]!.advance(10 * MINUTE);
    expect((await reconcilers[0]!.pass()).stored).toEqual([]);
    await settle(h.control);
    const runs = await runsOf(h, c2);
    expect(runs.map((r) => [r.ref, r.conclusion])).toEqual([["refs/heads/main", "success"]]);
    expect(finalChecks(h.github, c2)).toEqual({ "ci / build": "completed:success", "ci / test": "completed:success" });
    expect(h.github.violations).toEqual([]);
    for (const r of reconcilers) await r.stop();
  });
});
