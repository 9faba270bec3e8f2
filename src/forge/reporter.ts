/**
 * Reports stages to the forge (SPEC 4) through a durable outbox. As the
 * engine's events are stored, this listener records which checks must now
 * reflect which run event (one upsert into `forge_outbox`, keeping the
 * newest seq) and returns; the outbox worker (outbox-worker.ts) posts them
 * from the run's stored state, retries until they land, and reconciliation
 * covers a crash before the row was written. A run never waits on a forge.
 */
import type { EngineListener } from "../engine/engine.js";
import type { Clock } from "../engine/ports.js";
import { systemClock } from "../engine/system-clock.js";
import type { PipelineError } from "../pipeline-parser/index.js";
import type { RunEvent, RunTrigger } from "../saga/events.js";
import type { RunState } from "../saga/run-state.js";
import type { Database } from "../store/database.js";
import { stageUrl, validateCheck } from "./check-report.js";
import { target } from "./check-post.js";
import type { Forge, ForgeKind } from "./forge.js";
import { recordReports } from "./outbox-store.js";
import { DEFAULT_RETRY, type RetryPolicy, withRetry } from "./retry.js";

export interface ForgeReporterOptions {
  db: Database;
  forges: Partial<Record<ForgeKind, Forge>>;
  publicUrl: string;
  /** Retries of the one-off `validate` check (reportInvalid); stage checks go through the outbox. */
  retry?: RetryPolicy;
  clock?: Clock;
  /** Called once rows were recorded: the worker looks at the outbox now. */
  onRecorded?: () => void;
  onError?: (error: unknown, context: string) => void;
}

export class ForgeReporter implements EngineListener {
  private readonly writes = new Set<Promise<void>>();
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
    if (touched.size === 0) return;
    const wanted = [...touched].map((stageId) => ({ runId: state.id, stageId, forge: trigger.forge, seq: state.seq }));
    const write: Promise<void> = recordReports(this.options.db, wanted, (this.options.clock ?? systemClock).now())
      .then(() => this.options.onRecorded?.())
      // Reconciliation records it again from the run's history.
      .catch((error: unknown) => (this.options.onError ?? defaultOnError)(error, `recording reports of run ${state.id} (reconciliation will)`))
      .finally(() => this.writes.delete(write));
    this.writes.add(write);
  }

  /** The one failing `PIPELINE / validate` check of a pipeline file that does not validate. */
  async reportInvalid(trigger: RunTrigger, sha: string, pipeline: string, errors: readonly PipelineError[]): Promise<void> {
    const forge = this.options.forges[trigger.forge];
    if (!forge) return;
    const check = validateCheck({ pipeline, sha, errors, detailsUrl: `${this.options.publicUrl}/`, deliveryId: trigger.deliveryId ?? "manual" });
    await withRetry(() => forge.reportCheck(target(trigger), check, null), this.options.retry ?? DEFAULT_RETRY, () => this.stopped);
  }

  /** Resolves when every outbox row asked for so far is written. */
  async idle(): Promise<void> {
    while (this.writes.size > 0) await Promise.all([...this.writes]);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle();
  }
}

function approvalStages(state: RunState): string[] {
  return [...state.stages.values()].filter((s) => s.needsApproval).map((s) => s.plan.id);
}

export { stageUrl, target };

function defaultOnError(error: unknown, context: string): void {
  console.error(`hodei forge: ${context}:`, error instanceof Error ? error.message : error);
}
