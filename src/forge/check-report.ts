/**
 * What a stage's check should say, from the run's state and the stage's log
 * (SPEC 4): name `PIPELINE / STAGE_ID`, status, conclusion, a summary with
 * command, attempt, duration and exit code, the log tail and annotations.
 */
import type { PipelineError } from "../pipeline-parser/index.js";
import { waitingFor, type RunState, type StageState } from "../saga/run-state.js";
import { parseAnnotations } from "./annotations.js";
import type { CheckReport } from "./forge.js";

/** GitHub's limit on output.text is 65,535 characters; keep room for the fence. */
const TEXT_LIMIT = 60_000;

export function checkName(pipeline: string, stageId: string): string {
  return `${pipeline} / ${stageId}`;
}

export function stageUrl(publicUrl: string, runId: string, stageId: string): string {
  return `${publicUrl}/runs/${encodeURIComponent(runId)}/stages/${encodeURIComponent(stageId)}`;
}

/** How to release a fork's stages that wait for approval (SPEC 6), as the check's details say it. */
export const APPROVAL_HINT =
  "This pull request comes from a fork and this stage uses secrets, so it waits. " +
  "A user with write, maintain or admin permission on the repository can comment `/hodei approve` on the pull request to run it for this head; a new push needs a new approval.";

export function stageCheck(state: RunState, stage: StageState, publicUrl: string, log: string | null): CheckReport {
  const { plan } = stage;
  if (waitingFor(state, stage) === "approval") return approvalCheck(state, stage, publicUrl);
  const status: CheckReport["status"] =
    stage.phase === "completed" ? "completed" : stage.phase === "leased" || stage.phase === "running" ? "in_progress" : "queued";
  const conclusion = status === "completed" ? stage.conclusion : null;
  const url = stageUrl(publicUrl, state.id, plan.id);
  const duration = stage.startedAt && stage.finishedAt ? `${Math.round((Date.parse(stage.finishedAt) - Date.parse(stage.startedAt)) / 100) / 10}s` : "—";
  const summary = [
    `**${plan.commands.length === 1 ? "Command" : "Commands"}:** ${plan.commands.map((c) => `\`${c.split("\n")[0] ?? ""}\``).join(", ")}`,
    `**Attempt:** ${Math.max(1, stage.attempt)} of ${plan.retries + 1}`,
    ...((plan.runsOn ?? []).length > 0 ? [`**Runs on:** an agent with ${(plan.runsOn ?? []).map((l) => `\`${l}\``).join(", ")}`] : []),
    `**Duration:** ${status === "completed" ? duration : "—"}`,
    `**Exit code:** ${stage.exitCode ?? "—"}`,
    ...(stage.reason ? [`**Reason:** ${stage.reason}`] : []),
    "",
    `[Logs and run on Hodei](${url})`,
  ].join("\n");
  const tail = log ? lastChars(log, TEXT_LIMIT) : null;
  return {
    name: checkName(state.meta.pipeline, plan.id),
    sha: state.meta.sha,
    status,
    conclusion,
    externalId: `${state.id}/${plan.id}`,
    detailsUrl: url,
    title: titleOf(status, conclusion, stage),
    summary,
    text: tail ? "```\n" + tail + "\n```" : null,
    annotations: conclusion === "failure" && log ? parseAnnotations(log) : [],
    rerunAction: conclusion === "failure" || conclusion === "timed_out" || conclusion === "cancelled",
    startedAt: stage.startedAt,
    completedAt: status === "completed" ? stage.finishedAt : null,
  };
}

/**
 * A stage waiting for `/hodei approve`: GitHub's `action_required` (a
 * completed check; it is replaced by a new one when the stage is released),
 * a pending status with the hint on Gitea and without an App.
 */
function approvalCheck(state: RunState, stage: StageState, publicUrl: string): CheckReport {
  const url = stageUrl(publicUrl, state.id, stage.plan.id);
  return {
    name: checkName(state.meta.pipeline, stage.plan.id),
    sha: state.meta.sha,
    status: "completed",
    conclusion: "action_required",
    externalId: `${state.id}/${stage.plan.id}`,
    detailsUrl: url,
    title: "Waiting for /hodei approve",
    summary: `${APPROVAL_HINT}\n\n**Secrets:** ${stage.plan.secrets.map((n) => `\`${n}\``).join(", ")}\n\n[Run on Hodei](${url})`,
    text: null,
    annotations: [],
    rerunAction: false,
    startedAt: null,
    completedAt: state.createdAt,
  };
}

/** The single failing check of a pipeline file that does not validate (SPEC 4). */
export function validateCheck(args: { pipeline: string; sha: string; errors: readonly PipelineError[]; detailsUrl: string; deliveryId: string }): CheckReport {
  const lines = args.errors.map((e) => e.toString());
  return {
    name: checkName(args.pipeline, "validate"),
    sha: args.sha,
    status: "completed",
    conclusion: "failure",
    externalId: `validate/${args.deliveryId}`,
    detailsUrl: args.detailsUrl,
    title: `${args.errors.length} error${args.errors.length === 1 ? "" : "s"} in the pipeline file`,
    summary: "The pipeline file does not validate, so nothing ran. Fix these and push again.",
    text: "```\n" + lastChars(lines.join("\n"), TEXT_LIMIT) + "\n```",
    annotations: args.errors.map((e) => ({ path: e.file, line: e.line, column: e.column, level: "failure", message: e.message })),
    rerunAction: false,
    startedAt: null,
    completedAt: new Date().toISOString(),
  };
}

function titleOf(status: CheckReport["status"], conclusion: CheckReport["conclusion"], stage: StageState): string {
  // Said, not left silent: only an agent with every label takes the stage (runs-on).
  const labels = stage.plan.runsOn ?? [];
  if (status === "queued") return labels.length > 0 ? `Queued: waiting for an agent with ${labels.join(", ")}` : "Queued";
  if (status === "in_progress") return `Running (attempt ${stage.attempt})`;
  switch (conclusion) {
    case "success":
      return "Succeeded";
    case "failure":
      return stage.exitCode !== null ? `Failed with exit code ${stage.exitCode}` : `Failed${stage.reason ? `: ${stage.reason}` : ""}`;
    case "timed_out":
      return "Timed out";
    case "cancelled":
      return "Cancelled";
    case "skipped":
      return "Skipped";
    default:
      return "Completed";
  }
}

function lastChars(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const cut = text.slice(text.length - limit);
  const nl = cut.indexOf("\n");
  return `… (earlier output on Hodei)\n${nl >= 0 ? cut.slice(nl + 1) : cut}`;
}
