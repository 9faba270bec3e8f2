/**
 * Starts a run for a commit the forge told us about: fetch it into the
 * mirror, read and plan its pipeline for the trigger context, and either
 * start the run through the engine or report why not (one failing
 * `PIPELINE / validate` check for a file that does not validate).
 */
import type { Engine } from "../engine/engine.js";
import type { Clock } from "../engine/ports.js";
import type { Forge } from "../forge/forge.js";
import type { ForgeReporter } from "../forge/reporter.js";
import { target } from "../forge/reporter.js";
import { planPipelineSource, type Plan, type PlannedStage, type PlanResult, type TriggerContext, type TriggerEvent } from "../pipeline-parser/index.js";
import type { RunTrigger } from "../saga/events.js";
import { noSpans, type Spans } from "../observability/spans.js";
import type { Database } from "../store/database.js";
import type { GitSources } from "./git-sources.js";
import { pipelineFromCommit } from "./pipeline-from-commit.js";
import { isApproved, recordForgeRun, runForDelivery } from "./run-index.js";
import { recordBranchSchedules } from "./schedule-store.js";
import { skipCiMarker } from "./skip-ci.js";

export interface StartRequest {
  trigger: RunTrigger;
  sha: string;
  ref: string;
  event: TriggerEvent;
  branch: string | null;
  tag: string | null;
  /** Push: the previous head; PR: the base to diff from (merge base). */
  diffFrom: { kind: "before"; sha: string | null } | { kind: "merge-base"; base: string };
}

export type StartOutcome =
  /** `waiting`: stages that wait for `/hodei approve` (a fork's stages with secrets), empty when none. */
  | { kind: "started"; runId: string; waiting: PlannedStage[] }
  | { kind: "skipped"; reason: string }
  | { kind: "invalid"; errors: number };

export class RunStarter {
  constructor(
    private readonly deps: {
      db: Database;
      engine: Engine;
      sources: GitSources;
      reporter: ForgeReporter;
      forge: (kind: RunTrigger["forge"]) => Forge | undefined;
      spans?: Spans;
      clock: Clock;
      /** Called after a push recorded its branch's schedules (the scheduler re-reads them). */
      onSchedules?: () => void;
    },
  ) {}

  async start(req: StartRequest, options: { fresh?: boolean } = {}): Promise<StartOutcome> {
    const { trigger, sha } = req;
    const { db, sources, reporter } = this.deps;
    const spans = this.deps.spans ?? noSpans;
    if (!options.fresh && trigger.deliveryId) {
      const existing = await runForDelivery(db, trigger.forge, trigger.deliveryId);
      if (existing) return { kind: "started", runId: existing, waiting: [] };
    }
    const forge = this.deps.forge(trigger.forge);
    const auth = forge ? await forge.cloneAuth(target(trigger)) : null;
    const pr = trigger.pullRequest;
    await spans.run("git fetch", { "hodei.repo": trigger.repo, "hodei.sha": sha }, () =>
      sources.mirrors.ensureCommit(trigger.cloneUrl, sha, { extraRefs: pr ? [`refs/pull/${pr.number}/head`] : [], auth: auth ?? undefined }),
    );

    // A push or pull request whose head commit says [skip ci] starts nothing; one asked for in a comment, or a schedule's, does.
    if (!options.fresh && req.event !== "schedule") {
      const marker = skipCiMarker(await sources.mirrors.commitMessage(trigger.cloneUrl, sha));
      if (marker !== null) {
        // The branch's new head still defines its schedules.
        if (isBranchPush(req)) {
          const pipeline = await pipelineFromCommit(sources.mirrors, trigger.cloneUrl, sha);
          await this.recordSchedules(req, pipeline.ok ? await planPipelineSource(pipeline.source, contextOf(req, null)) : null);
        }
        return { kind: "skipped", reason: `the head commit's message says ${marker}` };
      }
    }

    // The pipeline file and the changed files side by side: two git processes at once.
    const changed =
      req.diffFrom.kind === "before"
        ? sources.mirrors.changedFiles(trigger.cloneUrl, req.diffFrom.sha, sha)
        : sources.mirrors.changedSinceMergeBase(trigger.cloneUrl, req.diffFrom.base, sha);
    changed.catch(() => undefined); // awaited below, unless there is no pipeline
    const pipeline = await pipelineFromCommit(sources.mirrors, trigger.cloneUrl, sha);
    if (!pipeline.ok && pipeline.none) {
      if (isBranchPush(req)) await this.recordSchedules(req, null);
      return { kind: "skipped", reason: "no pipeline file in the commit" };
    }
    const ctx = contextOf(req, await changed);
    const planned = pipeline.ok ? await spans.run("pipeline plan", { "hodei.pipeline.file": pipeline.source.file }, () => planPipelineSource(pipeline.source, ctx)) : pipeline;
    // Triggered or not, valid or not: a push to a branch makes its head's schedules the branch's.
    if (isBranchPush(req)) await this.recordSchedules(req, planned);
    if (!planned.ok) {
      const name = pipeline.ok ? pipelineNameOf(pipeline.source.text) : "pipeline";
      await reporter.reportInvalid(trigger, sha, name, planned.errors);
      return { kind: "invalid", errors: planned.errors.length };
    }
    const { plan } = planned;
    if (!plan.triggered) return { kind: "skipped", reason: `pipeline ${plan.name} is not triggered by this ${req.event}` };
    // The run's checkout is made while the run is stored and its first stages decided; the run adopts it.
    const release = sources.prepare(trigger.cloneUrl, sha);
    try {
      return await this.startPlanned(req, plan);
    } finally {
      await release();
    }
  }

  /** Records the schedules of the pushed head's plan for its branch: none when it has no valid pipeline. */
  private async recordSchedules(req: StartRequest, planned: PlanResult | null): Promise<void> {
    const { trigger } = req;
    const head = { forge: trigger.forge, repo: trigger.repo, branch: req.branch ?? "", sha: req.sha, cloneUrl: trigger.cloneUrl, installationId: trigger.installationId };
    await recordBranchSchedules(this.deps.db, head, planned?.ok ? planned.plan.schedules : [], this.deps.clock.now());
    this.deps.onSchedules?.();
  }

  private async startPlanned(req: StartRequest, plan: Plan): Promise<StartOutcome> {
    const { trigger, sha } = req;
    const { db, engine } = this.deps;
    const pr = trigger.pullRequest;
    // SPEC 6: a fork's stages that use secrets (and so their dependents) wait
    // in the run for `/hodei approve` on this head; the others run now.
    const waiting = pr?.fork && !(await isApproved(db, trigger.forge, trigger.repo, sha)) ? plan.stages.filter((s) => !s.skip && s.secrets.length > 0) : [];
    const runId = await engine.startRun({
      pipeline: plan.name,
      source: { kind: "git", url: trigger.cloneUrl, sha },
      repo: trigger.repo,
      sha,
      ref: req.ref,
      event: req.event,
      stages: plan.stages,
      trigger,
      ...(waiting.length > 0 ? { approvalRequired: waiting.map((s) => s.id) } : {}),
    });
    await recordForgeRun(db, { runId, forge: trigger.forge, repo: trigger.repo, headSha: sha, prNumber: pr?.number ?? null, deliveryId: trigger.deliveryId }, this.deps.clock.now());
    return { kind: "started", runId, waiting };
  }
}

/** A push of a branch (not a tag): the one kind of start that records schedules. */
function isBranchPush(req: StartRequest): boolean {
  return req.event === "push" && req.branch !== null && req.tag === null;
}

/** The trigger context of a start; `changedFiles` null: unknown. */
function contextOf(req: StartRequest, changedFiles: string[] | null): TriggerContext {
  const pr = req.trigger.pullRequest;
  const [owner = "", name = ""] = req.trigger.repo.split("/");
  return {
    event: req.event,
    branch: req.branch,
    tag: req.tag,
    sha: req.sha,
    changedFiles,
    repo: { owner, name },
    pullRequest: pr ? { number: pr.number, baseBranch: pr.baseRef } : null,
  };
}

/** The `name:` of a YAML pipeline that failed to validate, for the check's name; else "pipeline". */
function pipelineNameOf(text: string): string {
  const m = /^name:\s*["']?([A-Za-z0-9_.-]{1,100})["']?\s*(#.*)?$/m.exec(text);
  return m?.[1] ?? "pipeline";
}
