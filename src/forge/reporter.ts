/**
 * Reports stages to the forge as engine events arrive (SPEC 4). The engine
 * listener only records what each check should now say and returns: the
 * calls happen in the background, one at a time per check, always sending
 * the newest state, and never the state of an older event than the forge
 * already has, so a late `in_progress` cannot overwrite `completed`. Forge
 * errors are retried with backoff and then logged; a run never waits on them.
 */
import { KeyedQueue } from "../engine/keyed-queue.js";
import type { EngineListener } from "../engine/engine.js";
import type { PipelineError } from "../pipeline-parser/index.js";
import type { RunEvent, RunTrigger } from "../saga/events.js";
import type { RunState } from "../saga/run-state.js";
import type { Database } from "../store/database.js";
import { readStageLog } from "../store/run-queries.js";
import { checkName, stageCheck, stageUrl, validateCheck } from "./check-report.js";
import { loadCheck, saveCheck } from "./check-store.js";
import type { Forge, ForgeKind, RepoTarget } from "./forge.js";
import { DEFAULT_RETRY, type RetryPolicy, withRetry } from "./retry.js";

export interface ForgeReporterOptions {
  db: Database;
  forges: Partial<Record<ForgeKind, Forge>>;
  publicUrl: string;
  retry?: RetryPolicy;
  onError?: (error: unknown, context: string) => void;
}

interface Wanted {
  state: RunState;
  stageId: string;
  seq: number;
}

export class ForgeReporter implements EngineListener {
  private readonly queue = new KeyedQueue();
  private readonly wanted = new Map<string, Wanted>();
  private stopped = false;

  constructor(private readonly options: ForgeReporterOptions) {}

  onEvents(state: RunState, events: readonly RunEvent[]): void {
    const trigger = state.meta.trigger;
    if (!trigger || !this.options.forges[trigger.forge]) return;
    const touched = new Set<string>();
    for (const e of events) {
      if (e.type === "run.planned") for (const id of state.stages.keys()) touched.add(id);
      else if (e.type === "run.rerun_requested") for (const id of e.data.stageIds) touched.add(id);
      else if (e.type === "run.approved") for (const id of approvalStages(state)) touched.add(id);
      else if (e.type === "stage.queued" || e.type === "attempt.started" || e.type === "stage.completed") touched.add(e.data.stageId);
    }
    for (const stageId of touched) this.schedule({ state, stageId, seq: state.seq });
  }

  /** The one failing `PIPELINE / validate` check of a pipeline file that does not validate. */
  async reportInvalid(trigger: RunTrigger, sha: string, pipeline: string, errors: readonly PipelineError[]): Promise<void> {
    const forge = this.options.forges[trigger.forge];
    if (!forge) return;
    const check = validateCheck({ pipeline, sha, errors, detailsUrl: `${this.options.publicUrl}/`, deliveryId: trigger.deliveryId ?? "manual" });
    await withRetry(() => forge.reportCheck(target(trigger), check, null), this.options.retry ?? DEFAULT_RETRY, () => this.stopped);
  }

  /** Resolves when every scheduled report has been sent or given up (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue.idle();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.queue.idle();
  }

  private schedule(w: Wanted): void {
    const key = `${w.state.id}\0${w.stageId}`;
    this.wanted.set(key, w);
    void this.queue.run(key, () =>
      this.flush(key).catch((error: unknown) => (this.options.onError ?? defaultOnError)(error, `reporting ${w.state.id} ${w.stageId}`)),
    );
  }

  private async flush(key: string): Promise<void> {
    const w = this.wanted.get(key);
    if (!w) return; // an earlier flush already sent the newest state
    this.wanted.delete(key);
    const trigger = w.state.meta.trigger;
    const stage = w.state.stages.get(w.stageId);
    const forge = trigger ? this.options.forges[trigger.forge] : undefined;
    if (!trigger || !stage || !forge) return;
    const name = checkName(w.state.meta.pipeline, w.stageId);
    const last = await loadCheck(this.options.db, w.state.id, name);
    if (last && last.lastSeq >= w.seq) return;
    const log = stage.phase === "completed" && stage.attempt > 0 ? await this.log(w.state.id, w.stageId, stage.attempt) : null;
    const check = stageCheck(w.state, stage, this.options.publicUrl, log);
    const signature = `${check.status}/${check.conclusion ?? ""}/${Math.max(1, stage.attempt)}`;
    // What the check last showed is in the store, so a restarted server knows it too.
    const before = last?.shown ?? null;
    if (before === signature) {
      await saveCheck(this.options.db, w.state.id, name, last?.externalId ?? null, w.seq, signature);
      return;
    }
    // A completed check (or an action_required one) is not reopened but replaced, as GitHub's own re-run does.
    const reopen = before?.startsWith("completed/") && check.status !== "completed";
    const existing = reopen ? null : (last?.externalId ?? null);
    const id = await withRetry(() => forge.reportCheck(target(trigger), check, existing), this.options.retry ?? DEFAULT_RETRY, () => this.stopped);
    await saveCheck(this.options.db, w.state.id, name, id, w.seq, signature);
  }

  private async log(runId: string, stageId: string, attempt: number): Promise<string> {
    const { chunks } = await readStageLog(this.options.db, { runId, stageId, attempt });
    return chunks.map((c) => c.data).join("");
  }
}

function approvalStages(state: RunState): string[] {
  return [...state.stages.values()].filter((s) => s.needsApproval).map((s) => s.plan.id);
}

export function target(trigger: RunTrigger): RepoTarget {
  const [owner = "", name = ""] = trigger.repo.split("/");
  return { owner, name, installationId: trigger.installationId };
}

export { stageUrl };

function defaultOnError(error: unknown, context: string): void {
  console.error(`hodei forge: ${context}:`, error instanceof Error ? error.message : error);
}
