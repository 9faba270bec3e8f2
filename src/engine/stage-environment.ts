import type { PlannedStage } from "../pipeline-parser/types.js";
import type { RunState } from "../saga/run-state.js";

/**
 * The variables every stage sees besides its own `env`, in the spirit of
 * GitHub Actions' and Woodpecker's CI_* variables. The stage's own `env` wins.
 */
export function stageEnvironment(run: RunState, stage: PlannedStage, attempt: number): Record<string, string> {
  const ref = run.meta.ref ?? "";
  return {
    CI: "true",
    HODEI: "true",
    HODEI_RUN_ID: run.id,
    HODEI_PIPELINE: run.meta.pipeline,
    HODEI_STAGE: stage.name,
    HODEI_STAGE_ID: stage.id,
    HODEI_ATTEMPT: String(attempt),
    HODEI_EVENT: run.meta.event,
    HODEI_REPO: run.meta.repo,
    HODEI_COMMIT_SHA: run.meta.sha,
    HODEI_REF: ref,
    ...stage.env,
  };
}
