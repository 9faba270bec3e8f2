/**
 * Works off the forge outbox (outbox-store.ts): claims due rows, posts each
 * check as the run's stored state says it should look, and deletes the row
 * once posted. A failed post is tried again with backoff (report-backoff.ts,
 * honouring the forge's rate-limit headers) for as long as it takes; only a
 * permanent refusal (a 4xx like 404 or 422) is given up, with one log line
 * and the reason kept in the row. Claims name this server and expire, so
 * several servers share the outbox and a dead one's rows are taken over.
 *
 * Reconciliation, at start and every `reconcileMs`, records rows again for
 * runs whose checks lag behind their history: a crash after an event was
 * stored and before its row was written still ends with the check posted.
 * All waiting is on the Clock port, so tests drive it on virtual time.
 */
import { withClockTimeout } from "../engine/clock-timeout.js";
import type { Clock } from "../engine/ports.js";
import { systemClock } from "../engine/system-clock.js";
import type { RunState } from "../saga/run-state.js";
import type { Database } from "../store/database.js";
import { storeUnavailableReason } from "../store/store-unavailable.js";
import type { CheckPosted } from "./check-post.js";
import { ForgeError, type ForgeKind } from "./forge.js";
import {
  claimDueReports,
  finishReport,
  giveUpReport,
  laggingChecks,
  nextReportDue,
  pendingReports,
  recordReports,
  releaseOwnReports,
  rescheduleReport,
  type OutboxRow,
} from "./outbox-store.js";
import { DEFAULT_REPORT_BACKOFF, isPermanentRefusal, reportDelayMs, type ReportBackoff } from "./report-backoff.js";

export interface OutboxWorkerOptions {
  db: Database;
  /** This server's node identity: whose claims are whose. */
  owner: string;
  /** The forges configured here: only their runs are reconciled. */
  forges: readonly ForgeKind[];
  loadRun: (runId: string) => Promise<RunState | null>;
  /** Posts one stage's check of a run as loaded (check-post.ts). */
  post: (state: RunState | null, stageId: string) => Promise<CheckPosted>;
  clock?: Clock;
  backoff?: ReportBackoff;
  /** How long a claim holds (default 60 s); a post taking half of it is abandoned and tried again. */
  claimMs?: number;
  /** How often to reconcile (default 60 s, HODEI_FORGE_RECONCILE_MS). */
  reconcileMs?: number;
  /** Runs finished longer ago than this are not reconciled (default 24 h). */
  reconcileWindowMs?: number;
  /** Longest wait between looks at the outbox when nothing here is due (rows of other servers whose claims may lapse). */
  idlePollMs?: number;
  /** Rows claimed at once (default 8). */
  batch?: number;
  /** A factor about 1 that spreads retries (default 0.8-1.2). */
  jitter?: () => number;
  log: (message: string) => void;
}

/** A post that did not answer within its time: tried again like a network error. */
export class ReportTimeoutError extends Error {
  constructor(readonly ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = "ReportTimeoutError";
  }
}

export class OutboxWorker {
  private readonly clock: Clock;
  private readonly claimMs: number;
  private stopped = true;
  private draining: Promise<void> | null = null;
  private again = false;
  private cancelTimer: (() => void) | null = null;
  private cancelReconcile: (() => void) | null = null;
  private reconciling: Promise<unknown> | null = null;
  private passWaiters: (() => void)[] = [];
  /** Logged once per outage of the outbox itself, not once per pass. */
  private failing = false;

  constructor(private readonly options: OutboxWorkerOptions) {
    this.clock = options.clock ?? systemClock;
    this.claimMs = options.claimMs ?? 60_000;
  }

  /** Frees the claims an earlier process under this identity held, reconciles, and starts working. */
  async start(): Promise<void> {
    this.stopped = false;
    const released = await releaseOwnReports(this.options.db, this.options.owner);
    if (released > 0) this.options.log(`forge: took back ${released} check report(s) this server was posting before it restarted`);
    const recorded = await this.reconcile();
    if (recorded > 0) this.options.log(`forge: ${recorded} check(s) lagged behind their runs' history and will be posted`);
    this.scheduleReconcile();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelTimer?.();
    this.cancelReconcile?.();
    await this.reconciling;
    await this.draining;
  }

  /** Looks at the outbox now (new rows were recorded). */
  wake(): void {
    if (this.stopped) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.cancelTimer?.();
    this.cancelTimer = null;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      for (const resolve of this.passWaiters.splice(0)) resolve();
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  /** Resolves when no pass over the outbox and no reconciliation is under way (tests on a virtual clock settle on it). */
  async settled(): Promise<void> {
    while (this.draining || this.reconciling) {
      await this.draining;
      await this.reconciling;
    }
  }

  /** Resolves when no report is pending (posted or given up); for tests and orderly shutdown. */
  async idle(): Promise<void> {
    this.wake();
    for (;;) {
      await this.draining;
      if (this.stopped || (await pendingReports(this.options.db)) === 0) return;
      await new Promise<void>((resolve) => this.passWaiters.push(resolve));
    }
  }

  /** Records rows for checks that lag behind their run; returns how many. */
  async reconcile(): Promise<number> {
    const now = this.clock.now();
    const since = new Date(now.getTime() - (this.options.reconcileWindowMs ?? 24 * 3600_000));
    let total = 0;
    for (;;) {
      const lagging = await laggingChecks(this.options.db, this.options.forges, since, 500);
      if (lagging.length === 0) break;
      await recordReports(this.options.db, lagging, now);
      total += lagging.length;
      if (lagging.length < 500) break;
    }
    if (total > 0) this.wake();
    return total;
  }

  private scheduleReconcile(): void {
    if (this.stopped) return;
    this.cancelReconcile = this.clock.setTimer(() => {
      this.reconciling = this.reconcile()
        .catch((error: unknown) => this.options.log(`forge: reconciling check reports failed, tried again later: ${messageOf(error)}`))
        .finally(() => {
          this.reconciling = null;
          this.scheduleReconcile();
        });
    }, this.options.reconcileMs ?? 60_000);
  }

  private async drain(): Promise<void> {
    const { db, owner } = this.options;
    const batch = this.options.batch ?? 8;
    const idlePollMs = this.options.idlePollMs ?? 10_000;
    let wait = idlePollMs;
    try {
      while (!this.stopped) {
        const at = this.clock.now();
        const rows = await claimDueReports(db, batch, { owner, at, expiresAt: new Date(at.getTime() + this.claimMs) });
        if (rows.length === 0) break;
        // Stages of one run in one batch share one load of its state.
        const loads = new Map<string, Promise<RunState | null>>();
        const load = (runId: string) => {
          let p = loads.get(runId);
          if (!p) loads.set(runId, (p = this.options.loadRun(runId)));
          return p;
        };
        await Promise.all(rows.map((row) => this.handle(row, load)));
      }
      const due = await nextReportDue(db);
      if (due) wait = Math.min(idlePollMs, Math.max(0, due.getTime() - this.clock.now().getTime()));
      if (this.failing) this.options.log("forge: the outbox answers again");
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.options.log(`forge: working off the outbox failed, tried again in ${idlePollMs} ms: ${storeUnavailableReason(error) ?? messageOf(error)}`);
      this.failing = true;
    }
    if (!this.stopped) this.cancelTimer = this.clock.setTimer(() => this.wake(), wait);
  }

  private async handle(row: OutboxRow, load: (runId: string) => Promise<RunState | null>): Promise<void> {
    const { db, owner, log } = this.options;
    const key = { runId: row.runId, stageId: row.stageId };
    try {
      const posted = await this.withinClaim(async () => this.options.post(await load(row.runId), row.stageId));
      // Done for the seq it was claimed at (or the newer one posted); a newer event recorded meanwhile keeps the row.
      await finishReport(db, key, owner, Math.max(posted.seq ?? row.seq, row.seq), this.clock.now());
    } catch (error) {
      const attempts = row.attempts + 1;
      const reason = messageOf(error);
      const now = this.clock.now();
      if (isPermanentRefusal(error)) {
        await giveUpReport(db, key, owner, attempts, reason, now);
        log(`forge: gave up reporting check ${row.stageId} of run ${row.runId} after ${attempts} attempt(s): the forge refused it: ${reason}`);
        return;
      }
      const asked = error instanceof ForgeError ? error.retryAfterSeconds : null;
      const jitter = this.options.jitter?.() ?? 0.8 + Math.random() * 0.4;
      const delay = reportDelayMs(attempts, this.options.backoff ?? DEFAULT_REPORT_BACKOFF, asked, jitter);
      await rescheduleReport(db, key, owner, attempts, new Date(now.getTime() + delay), reason, now);
      log(`forge: reporting check ${row.stageId} of run ${row.runId} failed (attempt ${attempts}), next try in ${Math.round(delay / 100) / 10} s${asked !== null ? " as the forge asked" : ""}: ${reason}`);
    }
  }

  /** Runs `fn`, failing with ReportTimeoutError after half the claim, so the claim never lapses under a hung call. */
  private withinClaim<T>(fn: () => Promise<T>): Promise<T> {
    const ms = Math.floor(this.claimMs / 2);
    return withClockTimeout(fn(), ms, (f, after) => this.clock.setTimer(f, after), () => new ReportTimeoutError(ms));
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
