/**
 * Whether a stage whose needs have all ended may run (SPEC 1's skip rules,
 * extended by `when.status`):
 * - without `when.status` (or `[success]`), only if each need ended well:
 *   success, or a failure with allow_failure;
 * - with `failure`, also if a stage upstream (a need, or what it needs, and
 *   so on) ended failure or timed_out without allow_failure;
 * - with `always`, whatever they ended, a need skipped or cancelled too.
 * A stage that may not run ends skipped, saying why.
 */
import { needSatisfied } from "./conclusion.js";
import type { StageConclusion } from "./events.js";
import type { RunState, StageState } from "./run-state.js";

export type NeedsVerdict = "wait" | "ready" | { skipped: string };

export function needsVerdict(state: RunState, s: StageState, concluded: ReadonlyMap<string, StageConclusion>): NeedsVerdict {
  let unmet: string | null = null;
  for (const needId of s.plan.needs) {
    const need = state.stages.get(needId);
    const conclusion = concluded.get(needId);
    if (!need || conclusion === undefined) return "wait";
    if (!needSatisfied(conclusion, need.plan.allowFailure)) unmet ??= `needs ${needId}, which ended ${conclusion}`;
  }
  const status = s.plan.status ?? ["success"];
  const wants = (outcome: "success" | "failure"): boolean => status === "always" || status.includes(outcome);
  if (unmet === null) return wants("success") ? "ready" : { skipped: "runs on failure, and nothing it needs failed" };
  if (status === "always") return "ready";
  if (wants("failure") && failedUpstream(state, s, concluded) !== null) return "ready";
  return { skipped: unmet };
}

/** A stage upstream of `s` that ended failure or timed_out without allow_failure, if any. */
export function failedUpstream(state: RunState, s: StageState, concluded: ReadonlyMap<string, StageConclusion>): string | null {
  const seen = new Set<string>();
  const pending = [...s.plan.needs];
  for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
    if (seen.has(id)) continue;
    seen.add(id);
    const up = state.stages.get(id);
    if (!up) continue;
    const c = concluded.get(id);
    if ((c === "failure" || c === "timed_out") && !up.plan.allowFailure) return id;
    pending.push(...up.plan.needs);
  }
  return null;
}
