import { matchesAny } from "./globs.js";
import type { PipelineDefinition, PullRequestTrigger, PushTrigger, TriggerContext, WhenClause } from "./types.js";

/**
 * Whether `on` starts a run for this context.
 * - No `on`: a push to any branch (not a tag) and any pull_request.
 * - `manual` runs always start: whoever starts one by hand means it.
 * - `schedule` runs start when `on.schedule` has a schedule of the run's branch.
 * - push: with only one of branches/tags given, the other kind of push does not start.
 * - paths / paths-ignore apply when the changed files are known.
 */
export function isTriggered(on: PipelineDefinition["on"], ctx: TriggerContext): boolean {
  if (ctx.event === "manual") return true;
  if (ctx.event === "schedule") return (on?.schedule ?? []).some((s) => s.branch === ctx.branch);
  if (on === undefined) return ctx.event === "pull_request" || ctx.tag === null;
  if (ctx.event === "push") return "push" in on && pushMatches(on.push ?? {}, ctx);
  return "pull_request" in on && pullRequestMatches(on.pull_request ?? {}, ctx);
}

function pushMatches(push: PushTrigger, ctx: TriggerContext): boolean {
  if (ctx.tag !== null) {
    if (push.tags ? !matchesAny(ctx.tag, push.tags) : push.branches !== undefined) return false;
  } else if (push.branches ? !matchesAny(ctx.branch ?? "", push.branches) : push.tags !== undefined) {
    return false;
  }
  return pathsMatch(push, ctx.changedFiles);
}

function pullRequestMatches(pr: PullRequestTrigger, ctx: TriggerContext): boolean {
  const base = ctx.pullRequest?.baseBranch ?? ctx.branch ?? "";
  if (pr.branches && !matchesAny(base, pr.branches)) return false;
  return pathsMatch(pr, ctx.changedFiles);
}

/** GitHub Actions semantics: some changed file must match `paths` (if given) and not `paths-ignore`. */
function pathsMatch(filter: { paths?: string[]; "paths-ignore"?: string[] }, changed: string[] | null): boolean {
  const include = filter.paths;
  const ignore = filter["paths-ignore"];
  if (changed === null || (include === undefined && ignore === undefined)) return true;
  return changed.some((f) => (include === undefined || matchesAny(f, include)) && (ignore === undefined || !matchesAny(f, ignore)));
}

/** Whether a stage's `when` lets it run: every given key must match. */
export function whenMatches(when: WhenClause | undefined, ctx: TriggerContext): boolean {
  if (!when) return true;
  if (when.event && !when.event.includes(ctx.event)) return false;
  if (when.branch) {
    const branch = ctx.event === "pull_request" ? (ctx.pullRequest?.baseBranch ?? ctx.branch) : ctx.branch;
    if (branch === null || !matchesAny(branch, when.branch)) return false;
  }
  if (when.tag && (ctx.event === "pull_request" || ctx.tag === null || !matchesAny(ctx.tag, when.tag))) return false;
  if (when.paths && ctx.changedFiles !== null && !ctx.changedFiles.some((f) => matchesAny(f, when.paths ?? []))) return false;
  return true;
}
