/**
 * Turns a stored delivery into engine calls: pushes and pull request heads
 * start runs, a new head supersedes the PR's older runs, closing a PR
 * cancels its runs, check re-runs re-run stages, comments go to
 * comment-commands.ts. Used as the delivery processor's handler.
 */
import type { Engine } from "../engine/engine.js";
import type { Clock } from "../engine/ports.js";
import { systemClock } from "../engine/system-clock.js";
import type { Forge, ForgeKind } from "../forge/forge.js";
import { target, type ForgeReporter } from "../forge/reporter.js";
import { RerunRefusedError } from "../saga/rerun.js";
import type { RunTrigger } from "../saga/events.js";
import type { Spans } from "../observability/spans.js";
import type { Database } from "../store/database.js";
import type { StoredDelivery } from "../webhooks/delivery-store.js";
import { type ForgeEvent, PayloadError } from "../webhooks/forge-event.js";
import { normaliseDelivery } from "../webhooks/normalise.js";
import { isReconciledDelivery } from "../webhooks/reconciled-events.js";
import { SCHEDULER_SENDER } from "../webhooks/schedule-events.js";
import type { DeliveryResult } from "../webhooks/processor.js";
import { CommentCommands } from "./comment-commands.js";
import { claimHead, type Head } from "./forge-heads.js";
import type { GitSources } from "./git-sources.js";
import { latestRunFor, pullRequestRuns } from "./run-index.js";
import { RunStarter, type StartOutcome } from "./run-starter.js";
import { deleteBranchSchedules } from "./schedule-store.js";

export interface TriggerServiceOptions {
  db: Database;
  engine: Engine;
  sources: GitSources;
  reporter: ForgeReporter;
  forges: Partial<Record<ForgeKind, Forge>>;
  /** Spans around fetching and planning (tracing); default none. */
  spans?: Spans;
  /** The time of approvals and audit entries; default the system clock. */
  clock?: Clock;
  /** Called after a push recorded its branch's schedules. */
  onSchedules?: () => void;
}

export class TriggerService {
  private readonly starter: RunStarter;
  private readonly comments: CommentCommands;
  private readonly clock: Clock;

  constructor(private readonly options: TriggerServiceOptions) {
    const forge = (kind: ForgeKind) => options.forges[kind];
    const clock = options.clock ?? systemClock;
    this.clock = clock;
    this.starter = new RunStarter({ ...options, forge, clock });
    this.comments = new CommentCommands({ db: options.db, engine: options.engine, starter: this.starter, forge, clock });
  }

  handle = async (d: StoredDelivery): Promise<DeliveryResult> => {
    let event: ForgeEvent;
    try {
      const n = normaliseDelivery(d);
      if (!n.ok) return { status: "ignored", outcome: n.ignored };
      event = n.event;
    } catch (error) {
      // A malformed payload will not improve by retrying.
      if (error instanceof PayloadError) return { status: "ignored", outcome: `malformed: ${error.message}` };
      throw error;
    }
    switch (event.kind) {
      case "push": {
        const taken = await this.headTaken({ forge: event.repo.forge, repo: event.repo.fullName, ref: event.ref, sha: event.after }, d.deliveryId);
        if (taken) return taken;
        const trigger = triggerOf(event.repo, d.deliveryId, null, event.sender);
        const outcome = await this.starter.start({
          trigger,
          sha: event.after,
          ref: event.ref,
          event: "push",
          branch: event.branch,
          tag: event.tag,
          diffFrom: { kind: "before", sha: event.before },
        });
        return describe(outcome);
      }
      case "pull_request":
        return this.pullRequest(event, d.deliveryId);
      case "comment":
        return this.comments.handle(event);
      case "check_run": {
        if (event.action === "requested_action" && event.requestedAction !== "rerun") return { status: "ignored", outcome: `unknown action ${event.requestedAction ?? ""}` };
        const [runId, ...rest] = (event.externalId ?? "").split("/");
        const stageId = rest.join("/");
        if (!runId || !stageId) return { status: "ignored", outcome: "check run not created by Hodei" };
        return this.rerun(runId, { stages: [stageId] }, `check re-run by @${event.sender}`);
      }
      case "branch_deleted": {
        const ended = await deleteBranchSchedules(this.options.db, { forge: event.repo.forge, repo: event.repo.fullName, branch: event.branch });
        if (ended === 0) return { status: "ignored", outcome: "push deleted the ref" };
        return { status: "done", outcome: `push deleted branch ${event.branch}: its ${ended} schedule(s) ended` };
      }
      case "schedule": {
        // The slot's run: the branch head recorded with the schedule, as a push of it would run (checks included).
        const trigger = triggerOf(event.repo, d.deliveryId, null, SCHEDULER_SENDER);
        const outcome = await this.starter.start({
          trigger,
          sha: event.sha,
          ref: `refs/heads/${event.branch}`,
          event: "schedule",
          branch: event.branch,
          tag: null,
          diffFrom: { kind: "before", sha: null },
        });
        const result = describe(outcome);
        return { ...result, outcome: `schedule "${event.cron}" (${event.timezone}) slot ${event.slot}: ${result.outcome}` };
      }
      case "check_suite": {
        const latest = await latestRunFor(this.options.db, event.repo.forge, event.repo.fullName, event.headSha);
        if (!latest) return { status: "ignored", outcome: `no run for ${event.headSha}` };
        return this.rerun(latest.runId, { failed: true }, `check suite re-run by @${event.sender}`);
      }
    }
  };

  private async pullRequest(event: Extract<ForgeEvent, { kind: "pull_request" }>, deliveryId: string): Promise<DeliveryResult> {
    const { db, engine } = this.options;
    const runs = await pullRequestRuns(db, event.repo.forge, event.repo.fullName, event.number);
    if (event.action === "closed") {
      const open = runs.filter((r) => r.status !== "completed");
      for (const r of open) await engine.cancelRun(r.runId, `pull request #${event.number} closed`);
      return { status: "done", outcome: `cancelled ${open.length} run(s) of a closed pull request` };
    }
    const taken = await this.headTaken({ forge: event.repo.forge, repo: event.repo.fullName, ref: `refs/pull/${event.number}/head`, sha: event.head.sha }, deliveryId);
    if (taken) return taken;
    // SPEC 4: a new head cancels the runs of earlier heads still in flight.
    const superseded = runs.filter((r) => r.status !== "completed" && r.headSha !== event.head.sha);
    for (const r of superseded) await engine.cancelRun(r.runId, `superseded by ${event.head.sha.slice(0, 12)}`);
    const trigger = triggerOf(event.repo, deliveryId, { number: event.number, baseRef: event.base.ref, headRef: event.head.ref, fork: event.fork }, event.sender);
    const outcome = await this.starter.start({
      trigger,
      sha: event.head.sha,
      ref: `refs/pull/${event.number}/head`,
      event: "pull_request",
      branch: event.base.ref,
      tag: null,
      diffFrom: { kind: "merge-base", base: event.base.sha ?? `refs/heads/${event.base.ref}` },
    });
    if (outcome.kind === "started" && outcome.waiting.length > 0) await this.comments.askForApproval(trigger, event.head.sha, outcome.waiting);
    const result = describe(outcome);
    return superseded.length > 0 ? { ...result, outcome: `${result.outcome}; superseded ${superseded.length} run(s)` } : result;
  }

  /**
   * Claims the head for this delivery (table `forge_heads`). A reconciled
   * delivery and the forge's own one for the same head start one run: the
   * second to come is ignored. Two forge deliveries of one head (the same
   * commit pushed again) each start a run, as they always did.
   */
  private async headTaken(head: Head, deliveryId: string): Promise<DeliveryResult | null> {
    const claim = await claimHead(this.options.db, head, deliveryId, this.clock.now());
    if (claim.kind === "claimed") return null;
    if (!isReconciledDelivery(deliveryId) && !isReconciledDelivery(claim.by)) return null;
    const by = claim.by === null ? "its first listing" : isReconciledDelivery(claim.by) ? `reconciled delivery ${claim.by}` : `delivery ${claim.by}`;
    return { status: "ignored", outcome: `${head.ref} at ${head.sha.slice(0, 12)} was already seen (${by})` };
  }

  private async rerun(runId: string, request: { stages: string[] } | { failed: true }, reason: string): Promise<DeliveryResult> {
    try {
      const stages = await this.options.engine.rerun(runId, request, reason);
      return { status: "done", outcome: `re-running ${stages.join(", ")} of run ${runId}` };
    } catch (error) {
      if (error instanceof RerunRefusedError) return { status: "ignored", outcome: error.message };
      throw error;
    }
  }
}

export function triggerOf(repo: ForgeEvent["repo"], deliveryId: string | null, pullRequest: RunTrigger["pullRequest"], sender: string | null): RunTrigger {
  return { forge: repo.forge, repo: repo.fullName, cloneUrl: repo.cloneUrl, installationId: repo.installationId, deliveryId, pullRequest, sender };
}

export function describe(outcome: StartOutcome): DeliveryResult {
  switch (outcome.kind) {
    case "started":
      return {
        status: "done",
        outcome: `started run ${outcome.runId}${outcome.waiting.length > 0 ? `; ${outcome.waiting.map((s) => s.id).join(", ")} wait for /hodei approve (secrets)` : ""}`,
      };
    case "invalid":
      return { status: "done", outcome: `pipeline file does not validate (${outcome.errors} error(s)), reported` };
    case "skipped":
      return { status: "ignored", outcome: outcome.reason };
  }
}

export { target };
