/**
 * Pull request comment commands (SPEC 5). The commenter's permission is
 * asked from the forge, and the PR's head from the forge's API, never from
 * the comment payload. Accepted: a +1 reaction; refused or unknown: -1 (or
 * confused) and a reply saying why. What an accepted command did goes in
 * the audit trail under the commenter's forge account.
 */
import { AuditLog, type AuditAction } from "../access/audit.js";
import type { Engine } from "../engine/engine.js";
import type { Clock } from "../engine/ports.js";
import { type Forge, type ForgeKind, maySteer } from "../forge/forge.js";
import { target } from "../forge/reporter.js";
import type { PlannedStage } from "../pipeline-parser/index.js";
import { RerunRefusedError } from "../saga/rerun.js";
import type { RunTrigger } from "../saga/events.js";
import type { Database } from "../store/database.js";
import type { ForgeEvent } from "../webhooks/forge-event.js";
import type { DeliveryResult } from "../webhooks/processor.js";
import { COMMAND_HELP, type Command, parseCommands } from "./commands.js";
import { approve, latestRunFor, pullRequestRuns } from "./run-index.js";
import type { RunStarter } from "./run-starter.js";

type CommentEvent = Extract<ForgeEvent, { kind: "comment" }>;
type Result = { ok: true; note: string } | { ok: false; unknown: boolean; reason: string };

export class CommentCommands {
  private readonly audit: AuditLog;

  constructor(private readonly deps: { db: Database; engine: Engine; starter: RunStarter; forge: (kind: ForgeKind) => Forge | undefined; clock: Clock }) {
    this.audit = new AuditLog(deps.db);
  }

  /** One audit entry per run a command acted on; the comment is how (no address: it came through the forge). */
  private async record(event: CommentEvent, action: AuditAction, runId: string | null, detail: Record<string, unknown> = {}): Promise<void> {
    await this.audit.record(
      {
        principal: { kind: "forge", forge: event.repo.forge, login: event.author },
        action,
        repo: event.repo.fullName,
        ...(runId ? { runId } : {}),
        detail: { via: "comment", pullRequest: event.number, commentId: event.commentId, ...detail },
      },
      this.deps.clock.now(),
    );
  }

  async handle(event: CommentEvent): Promise<DeliveryResult> {
    const commands = parseCommands(event.body);
    if (commands.length === 0) return { status: "ignored", outcome: "comment without a command" };
    const forge = this.deps.forge(event.repo.forge);
    if (!forge) return { status: "ignored", outcome: `${event.repo.forge} is not configured for replies` };
    const repo = target(triggerFor(event, null));
    const permission = await forge.permission(repo, event.author);
    if (!maySteer(permission)) {
      await forge.react(repo, event.commentId, "-1");
      await forge.comment(
        repo,
        event.number,
        `@${event.author} only users with write, maintain or admin permission on this repository can command Hodei (yours: ${permission}).`,
      );
      return { status: "done", outcome: `refused: @${event.author} has ${permission} permission` };
    }
    const pr = await forge.pullRequest(repo, event.number);
    const trigger = triggerFor(event, { number: pr.number, baseRef: pr.baseRef, headRef: pr.headRef, fork: pr.fork });
    const results: Result[] = [];
    for (const command of commands) results.push(await this.run(command, event, trigger, pr.headSha, pr.baseSha));
    const refused = results.filter((r): r is Extract<Result, { ok: false }> => !r.ok);
    await forge.react(repo, event.commentId, refused.length === 0 ? "+1" : refused.some((r) => r.unknown) ? "confused" : "-1");
    if (refused.length > 0) await forge.comment(repo, event.number, refused.map((r) => `@${event.author} ${r.reason}`).join("\n\n"));
    return { status: "done", outcome: results.map((r) => (r.ok ? r.note : `refused: ${r.reason}`)).join("; ") };
  }

  /** Tells a fork's PR that stages with secrets wait for `/hodei approve` (SPEC 6). */
  async askForApproval(trigger: RunTrigger, sha: string, stages: readonly PlannedStage[]): Promise<void> {
    const forge = this.deps.forge(trigger.forge);
    if (!forge || !trigger.pullRequest) return;
    await forge.comment(
      target(trigger),
      trigger.pullRequest.number,
      `This pull request comes from a fork, and ${stages.map((s) => `\`${s.id}\``).join(", ")} use secrets, so they (and the stages that need them) wait for ${sha.slice(0, 12)}; the other stages run. ` +
        `A user with write permission can comment \`/hodei approve\` to run them for this head; a new push needs a new approval.`,
    );
  }

  private async run(command: Command, event: CommentEvent, trigger: RunTrigger, headSha: string, baseSha: string | null): Promise<Result> {
    const { db, engine } = this.deps;
    const by = `@${event.author}`;
    switch (command.kind) {
      case "unknown":
        return { ok: false, unknown: true, reason: `unknown command \`${command.text}\`. Commands: ${COMMAND_HELP}.` };
      case "retry": {
        const latest = await latestRunFor(db, trigger.forge, trigger.repo, headSha);
        if (!latest) return { ok: false, unknown: false, reason: `there is no run for the head ${headSha.slice(0, 12)} to retry; try \`/hodei run\`.` };
        try {
          const stages = await engine.rerun(latest.runId, command.stage ? { stages: [command.stage] } : { failed: true }, `/hodei retry by ${by}`);
          await this.record(event, "run.rerun", latest.runId, { stages });
          return { ok: true, note: `re-running ${stages.join(", ")} of run ${latest.runId}` };
        } catch (error) {
          if (error instanceof RerunRefusedError) return { ok: false, unknown: false, reason: `cannot retry: ${error.message}.` };
          throw error;
        }
      }
      case "cancel": {
        const running = (await pullRequestRuns(db, trigger.forge, trigger.repo, event.number)).filter((r) => r.headSha === headSha && r.status !== "completed");
        if (running.length === 0) return { ok: false, unknown: false, reason: "nothing is running for this pull request's head." };
        for (const r of running) {
          await engine.cancelRun(r.runId, `/hodei cancel by ${by}`);
          await this.record(event, "run.cancel", r.runId);
        }
        return { ok: true, note: `cancelled ${running.length} run(s)` };
      }
      case "approve": {
        if (!trigger.pullRequest?.fork) return { ok: false, unknown: false, reason: "`/hodei approve` is only needed for pull requests from forks." };
        await approve(db, { forge: trigger.forge, repo: trigger.repo, headSha, by: event.author }, this.deps.clock.now());
        // The head's runs that wait go on in the same run; with none in flight, a fresh run (nothing in it waits: the head is approved).
        const open = (await pullRequestRuns(db, trigger.forge, trigger.repo, event.number)).filter((r) => r.headSha === headSha && r.status !== "completed");
        const released: string[] = [];
        for (const r of open) if ((await engine.approveRun(r.runId, { by: event.author, sha: headSha })) === "approved") released.push(r.runId);
        await this.record(event, "run.approve", released[0] ?? null, { sha: headSha, runs: released });
        if (released.length > 0) return { ok: true, note: `approved ${headSha.slice(0, 12)}: released run(s) ${released.join(", ")}` };
        if (open.length > 0) return { ok: true, note: `approved ${headSha.slice(0, 12)}: its running run(s) wait for nothing` };
        return this.fresh(event, trigger, headSha, baseSha, "approved");
      }
      case "run":
        return this.fresh(event, trigger, headSha, baseSha, "run");
    }
  }

  private async fresh(event: CommentEvent, trigger: RunTrigger, headSha: string, baseSha: string | null, why: string): Promise<Result> {
    const pr = trigger.pullRequest;
    const outcome = await this.deps.starter.start(
      {
        trigger,
        sha: headSha,
        ref: `refs/pull/${pr?.number ?? 0}/head`,
        event: "pull_request",
        branch: pr?.baseRef ?? null,
        tag: null,
        diffFrom: { kind: "merge-base", base: baseSha ?? `refs/heads/${pr?.baseRef ?? "main"}` },
      },
      { fresh: true },
    );
    switch (outcome.kind) {
      case "started":
        if (why === "run") await this.record(event, "run.start", outcome.runId, { sha: headSha });
        return { ok: true, note: `${why}: started run ${outcome.runId}${outcome.waiting.length > 0 ? ` (${outcome.waiting.map((s) => s.id).join(", ")} wait for /hodei approve)` : ""}` };
      case "invalid":
        return { ok: false, unknown: false, reason: "the pipeline file does not validate; see the `validate` check." };
      case "skipped":
        return { ok: false, unknown: false, reason: `nothing to run: ${outcome.reason}.` };
    }
  }
}

function triggerFor(event: CommentEvent, pullRequest: RunTrigger["pullRequest"]): RunTrigger {
  return { forge: event.repo.forge, repo: event.repo.fullName, cloneUrl: event.repo.cloneUrl, installationId: event.repo.installationId, deliveryId: null, pullRequest, sender: event.author };
}
