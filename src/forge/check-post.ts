/**
 * Posts one stage's check as the run's stored state says it should look
 * now (SPEC 4). What the forge last showed is in `forge_checks`: a check
 * that already reflects this state or a newer one is left alone, so a late
 * `in_progress` never overwrites `completed`; one that would look the same
 * is only marked as reflecting the newer event, without a forge call.
 */
import type { RunState } from "../saga/run-state.js";
import type { Database } from "../store/database.js";
import { readStageLog } from "../store/run-queries.js";
import { checkName, stageCheck } from "./check-report.js";
import { loadCheck, saveCheck } from "./check-store.js";
import type { Forge, ForgeKind, RepoTarget } from "./forge.js";
import type { RunTrigger } from "../saga/events.js";

export interface CheckPostDeps {
  db: Database;
  forges: Partial<Record<ForgeKind, Forge>>;
  publicUrl: string;
}

/** What came of a post: the run seq the forge now reflects (null: nothing to post, the run or stage is gone). */
export interface CheckPosted {
  seq: number | null;
  /** A forge call was made. */
  called: boolean;
}

/** Posts `stageId`'s check of the run in `state` (as just loaded from the store; null: the run is gone). */
export async function postStageCheck(deps: CheckPostDeps, state: RunState | null, stageId: string): Promise<CheckPosted> {
  const trigger = state?.meta.trigger;
  const stage = state?.stages.get(stageId);
  const forge = trigger ? deps.forges[trigger.forge] : undefined;
  if (!state || !trigger || !stage || !forge) return { seq: null, called: false };
  const runId = state.id;
  const name = checkName(state.meta.pipeline, stageId);
  const last = await loadCheck(deps.db, runId, name);
  if (last && last.lastSeq >= state.seq) return { seq: last.lastSeq, called: false };
  const bare = stageCheck(state, stage, deps.publicUrl, null);
  const signature = `${bare.status}/${bare.conclusion ?? ""}/${Math.max(1, stage.attempt)}`;
  const before = last?.shown ?? null;
  if (before === signature) {
    await saveCheck(deps.db, runId, name, last?.externalId ?? null, state.seq, signature);
    return { seq: state.seq, called: false };
  }
  const log = stage.phase === "completed" && stage.attempt > 0 ? await stageLog(deps.db, runId, stageId, stage.attempt) : null;
  const check = log === null ? bare : stageCheck(state, stage, deps.publicUrl, log);
  // A completed check (or an action_required one) is not reopened but replaced, as GitHub's own re-run does:
  // also when the outbox sees the new attempt only once it has completed (it posts the newest stored state).
  const [shownStatus, shownConclusion, shownAttempt] = (before ?? "").split("/");
  const reopen =
    shownStatus === "completed" && (check.status !== "completed" || shownConclusion === "action_required" || Number(shownAttempt) !== Math.max(1, stage.attempt));
  const existing = reopen ? null : (last?.externalId ?? null);
  const id = await forge.reportCheck(target(trigger), check, existing);
  await saveCheck(deps.db, runId, name, id, state.seq, signature);
  return { seq: state.seq, called: true };
}

async function stageLog(db: Database, runId: string, stageId: string, attempt: number): Promise<string> {
  const { chunks } = await readStageLog(db, { runId, stageId, attempt });
  return chunks.map((c) => c.data).join("");
}

export function target(trigger: RunTrigger): RepoTarget {
  const [owner = "", name = ""] = trigger.repo.split("/");
  return { owner, name, installationId: trigger.installationId };
}
