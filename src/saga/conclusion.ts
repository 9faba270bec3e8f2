import type { RunConclusion, StageConclusion } from "./events.js";

/**
 * SPEC 1: `failure` if any stage without allow_failure ended failure or
 * timed_out, `cancelled` if the run was cancelled, else `success`.
 */
export function runConclusion(
  stages: readonly { conclusion: StageConclusion | null; allowFailure: boolean }[],
  cancelled: boolean,
): RunConclusion {
  const failed = stages.some(
    (s) => !s.allowFailure && (s.conclusion === "failure" || s.conclusion === "timed_out"),
  );
  if (failed) return "failure";
  if (cancelled) return "cancelled";
  return "success";
}

/** A stage runs only when every stage it needs ended well (SPEC 1). */
export function needSatisfied(conclusion: StageConclusion, allowFailure: boolean): boolean {
  if (conclusion === "success") return true;
  return allowFailure && (conclusion === "failure" || conclusion === "timed_out");
}
