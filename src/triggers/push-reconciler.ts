/**
 * Finds pushes and pull request heads whose webhook never arrived (GitHub and
 * Gitea do not deliver a failed webhook again) and has them built.
 *
 * At start and every `intervalMs`, for the repositories with a delivery or a
 * run in the last `windowMs` (at most `maxRepos` a pass, the ones listed
 * longest ago first), it lists the branches and open pull requests on the
 * forge and compares their heads with `forge_heads`. The rule:
 *
 * - a branch or pull request Hodei knows (it has a row for that ref) whose
 *   head is a commit Hodei has not seen there is built, as a push (`before`:
 *   the last commit seen on the branch) or a pull request `synchronize`;
 * - a branch or pull request Hodei does not know is built only if it appeared
 *   after Hodei first listed the repository: that first listing records every
 *   head it finds as seen, without a run, so no old branch is built;
 * - tags are not listed; a head already seen (a branch reset to an older
 *   commit, a pull request reopened on its old head) is not built again.
 *
 * It starts nothing itself: it stores a delivery for each such head (see
 * src/webhooks/reconciled-events.ts) and the delivery processor handles it
 * like the forge's own, so pipeline checks, fork rules and superseding apply.
 * Several servers on one store: one lists a repository per half interval
 * (`forge_repo_scans`), a head's delivery id is the same from every server
 * (the primary key keeps one), and the handlers claim heads in `forge_heads`,
 * so a late webhook for a reconciled head starts nothing more.
 *
 * Forge calls: two listings a repository (paginated, bounded by
 * `maxHeads`). A rate-limited answer, or a listing that used up the quota,
 * ends the pass; the next one waits as long as the forge asked, at least.
 */
import type { Clock } from "../engine/ports.js";
import { type BranchHead, type Forge, ForgeError, type ForgeKind, type Listing, type PullRequestInfo } from "../forge/forge.js";
import type { Database } from "../store/database.js";
import { passFailureLine } from "../store/store-unavailable.js";
import { insertDelivery } from "../webhooks/delivery-store.js";
import type { RepoRef } from "../webhooks/forge-event.js";
import { reconciledDelivery, type ReconciledDelivery } from "../webhooks/reconciled-events.js";
import { DELIVERY_CHANNEL } from "../webhooks/routes.js";
import { activeRepos, type ActiveRepo, claimScan, markBaseline } from "./active-repos.js";
import { type Head, knownRefs, recordSeenHeads } from "./forge-heads.js";

export interface PushReconcilerOptions {
  db: Database;
  forges: Partial<Record<ForgeKind, Forge>>;
  /** This server's node identity, recorded with its scans. */
  owner: string;
  clock: Clock;
  /** Between passes (HODEI_RECONCILE_INTERVAL_MS); 0: no passes at all. */
  intervalMs: number;
  /** How far back a delivery or run makes a repository active (HODEI_RECONCILE_WINDOW_MS). */
  windowMs: number;
  /** Repositories listed a pass, at most (HODEI_RECONCILE_MAX_REPOS). */
  maxRepos: number;
  /** Branches, and open pull requests, read a repository, at most (default 500). */
  maxHeads?: number;
  log?: (message: string) => void;
}

export interface PassResult {
  /** Repositories listed in this pass. */
  scanned: number;
  /** Deliveries stored for heads without a run (new ones only). */
  stored: string[];
  /** How long the forge asked to wait, when it cut the pass short. */
  waitMs: number | null;
}

export class PushReconciler {
  private cancelTimer: (() => void) | null = null;
  private running: Promise<PassResult> | null = null;
  private stopped = false;
  /** The last pass failed because the store was unavailable: said once per outage. */
  private storeDown = false;

  constructor(private readonly options: PushReconcilerOptions) {}

  /** The first pass at once, then one every interval; nothing when the interval is 0. */
  start(): void {
    if (this.options.intervalMs <= 0) return;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelTimer = null;
    await this.running?.catch(() => undefined);
  }

  /** Resolves when no pass is under way. */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  /** One pass; a pass already under way is joined, not doubled. */
  pass(): Promise<PassResult> {
    this.running ??= this.runPass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.cancelTimer = this.options.clock.setTimer(() => {
      this.cancelTimer = null;
      void this.pass().then(
        (r) => {
          this.storeDown = false;
          this.schedule(Math.max(this.options.intervalMs, r.waitMs ?? 0));
        },
        (error: unknown) => {
          const failure = passFailureLine(error, this.storeDown);
          if (failure.line) this.log(failure.line);
          this.storeDown = failure.storeDown;
          this.schedule(this.options.intervalMs);
        },
      );
    }, ms);
  }

  private async runPass(): Promise<PassResult> {
    const { db, clock, windowMs, maxRepos } = this.options;
    const now = clock.now();
    const result: PassResult = { scanned: 0, stored: [], waitMs: null };
    const repos = await activeRepos(db, new Date(now.getTime() - windowMs), maxRepos);
    for (const repo of repos) {
      if (this.stopped) break;
      const forge = this.options.forges[repo.forge];
      if (!forge) continue;
      const claim = await claimScan(db, repo, this.options.owner, now, new Date(now.getTime() - Math.floor(this.options.intervalMs / 2)));
      if (claim.kind === "recent") continue;
      result.scanned++;
      let listed: { branches: Listing<BranchHead>; pulls: Listing<PullRequestInfo> };
      try {
        listed = await this.list(forge, repo);
      } catch (error) {
        const wait = error instanceof ForgeError && error.retryable && error.retryAfterSeconds !== null ? error.retryAfterSeconds * 1000 : null;
        this.log(`${repo.forge} ${repo.fullName}: ${error instanceof Error ? error.message : String(error)}${wait !== null ? `; next pass in ${Math.ceil(wait / 1000)} s at the earliest` : ""}`);
        if (wait !== null) {
          result.waitMs = wait;
          break;
        }
        continue;
      }
      result.stored.push(...(await this.compare(repo, listed.branches.items, listed.pulls.items, claim.baseline, now)));
      if (claim.baseline) await markBaseline(db, repo, now);
      const asked = Math.max(listed.branches.waitSeconds ?? 0, listed.pulls.waitSeconds ?? 0);
      if (listed.branches.waitSeconds !== null || listed.pulls.waitSeconds !== null) {
        result.waitMs = asked * 1000;
        this.log(`${repo.forge}: the API quota is used up; next pass in ${asked} s at the earliest`);
        break;
      }
    }
    return result;
  }

  private async list(forge: Forge, repo: ActiveRepo): Promise<{ branches: Listing<BranchHead>; pulls: Listing<PullRequestInfo> }> {
    const [owner = "", name = ""] = repo.fullName.split("/");
    const target = { owner, name, installationId: repo.installationId };
    const limit = this.options.maxHeads ?? 500;
    const branches = await forge.branches(target, limit);
    // The quota ran out on the branches: the pull requests wait for the next pass.
    if (branches.waitSeconds !== null) return { branches, pulls: { items: [], truncated: true, waitSeconds: branches.waitSeconds } };
    const pulls = await forge.openPullRequests(target, limit);
    return { branches, pulls };
  }

  /** Stores a delivery for each head to build; on a first listing records the unknown ones as seen. Returns the new deliveries' ids. */
  private async compare(repo: ActiveRepo, branches: BranchHead[], pulls: PullRequestInfo[], baseline: boolean, now: Date): Promise<string[]> {
    const { db } = this.options;
    const known = await knownRefs(db, repo.forge, repo.fullName);
    const [owner = "", name = ""] = repo.fullName.split("/");
    const ref: RepoRef = { forge: repo.forge, owner, name, fullName: repo.fullName, cloneUrl: repo.cloneUrl, installationId: repo.installationId };
    const seen: Head[] = [];
    const deliveries: ReconciledDelivery[] = [];
    const consider = (gitRef: string, sha: string, build: (before: string | null) => ReconciledDelivery) => {
      const k = known.get(gitRef);
      if (k?.shas.has(sha)) return;
      if (!k && baseline) seen.push({ forge: repo.forge, repo: repo.fullName, ref: gitRef, sha });
      else deliveries.push(build(k?.latest ?? null));
    };
    for (const b of branches) {
      consider(`refs/heads/${b.name}`, b.sha, (before) => reconciledDelivery(ref, { kind: "push", ref: `refs/heads/${b.name}`, before, after: b.sha }));
    }
    for (const pr of pulls) {
      consider(`refs/pull/${pr.number}/head`, pr.headSha, (before) => reconciledDelivery(ref, { kind: "pull_request", action: before === null ? "opened" : "synchronize", pr }));
    }
    await recordSeenHeads(db, seen, now);
    const stored: string[] = [];
    // Background work: the store's ordinary queue, not the intake's urgent one.
    const background = { queryUrgent: db.query.bind(db) };
    for (const d of deliveries) {
      if (await insertDelivery(background, d, now, { channel: DELIVERY_CHANNEL, payload: `${d.forge}:${d.deliveryId}` })) {
        stored.push(d.deliveryId);
        this.log(`${repo.forge} ${repo.fullName}: no webhook came for ${d.what}; queued it`);
      }
    }
    return stored;
  }

  private log(message: string): void {
    this.options.log?.(`push reconciler: ${message}`);
  }
}
