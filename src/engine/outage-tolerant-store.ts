/**
 * The store as a dependency that can go away (issue 16). Wraps the engine's
 * `RunStore`: a call that fails because the store is unavailable (refused or
 * lost connection, shutdown, disk full: `storeUnavailableReason`) is tried
 * again with backoff on the engine's clock until it lands, so nothing that
 * waits on it (an agent's report, an assignment) is released before its
 * append is stored, and every run carries on by itself when the store
 * answers again. Any other error (a concurrent append, a constraint) is the
 * caller's, at once.
 *
 * While the store is away the engine must not hold the silence against the
 * agents: their heartbeats queue behind reports that wait here. `unavailable`
 * tells the lease sweeper so (see LeaseSweeper's `holdWhile`).
 *
 * The outage lasts until every call that failed has landed, not until any
 * call succeeds: on a full disk reads still answer while writes fail, and a
 * read must not end the hold while an agent's log batch (with the heartbeats
 * queued behind it) still waits.
 *
 * The operator hears one line when the outage starts, one per run the first
 * time that run waits in it (what it waits for), and one when it ends —
 * never a stack per failed call.
 */
import { storeUnavailableReason, type StoreUnavailableReason } from "../store/store-unavailable.js";
import type { AppendMode, AttemptLogs, AttemptRef, Clock, LogChunk, RunStore } from "./ports.js";
import type { RunEventBody } from "../saga/events.js";
import type { RunState } from "../saga/run-state.js";

export interface OutageOptions {
  clock: Clock;
  log: (message: string) => void;
  /** First delay before a call is tried again; doubles per failure up to `maxDelayMs`. */
  firstDelayMs?: number;
  maxDelayMs?: number;
}

export class StoreStoppedError extends Error {
  constructor(cause: unknown) {
    super("the engine stopped while waiting for the store", { cause });
    this.name = "StoreStoppedError";
  }
}

interface Outage {
  since: number;
  reason: StoreUnavailableReason;
  runs: Set<string>;
}

export class OutageTolerantStore implements RunStore {
  private outage: Outage | null = null;
  /** Calls that failed as unavailable and have not landed yet. */
  private failing = 0;
  private stopped = false;
  private readonly waiting = new Set<() => void>();

  constructor(
    private readonly inner: RunStore,
    private readonly options: OutageOptions,
  ) {}

  /** True while some call is waiting for the store to answer again. */
  get unavailable(): boolean {
    return this.outage !== null;
  }

  /** Why calls are waiting for the store, while they are (for `/healthz`). */
  get outageReason(): StoreUnavailableReason | null {
    return this.outage?.reason ?? null;
  }

  /** Ends every wait: the waiting calls fail with StoreStoppedError. */
  stop(): void {
    this.stopped = true;
    for (const wake of [...this.waiting]) wake();
  }

  create(runId: string, planned: Extract<RunEventBody, { type: "run.planned" }>, at: string): Promise<RunState> {
    return this.retry(`to create run ${runId}`, runId, () => this.inner.create(runId, planned, at));
  }

  append(state: RunState, events: readonly RunEventBody[], at: string, mode?: AppendMode, logs?: readonly AttemptLogs[]): Promise<RunState> {
    return this.retry(`to store ${events.length} event(s)${logs?.length ? " and the output that came with them" : ""}`, state.id, () =>
      this.inner.append(state, events, at, mode, logs),
    );
  }

  load(runId: string): Promise<RunState | null> {
    return this.retry("to read its history", runId, () => this.inner.load(runId));
  }

  claimRuns(): Promise<string[]> {
    return this.retry("to claim unfinished runs", null, () => this.inner.claimRuns());
  }

  renewOwnership(): Promise<{ runId: string; lastSeq: number }[]> {
    return this.retry("to renew run ownership", null, () => this.inner.renewOwnership());
  }

  watchRuns(listener: (runId: string) => void): Promise<() => Promise<void>> {
    return this.retry("to listen for other servers' appends", null, () => this.inner.watchRuns(listener));
  }

  appendLogs(ref: AttemptRef, chunks: readonly LogChunk[]): Promise<void> {
    return this.retry(`to store ${chunks.length} log chunk(s) of ${ref.stageId}#${ref.attempt}`, ref.runId, () => this.inner.appendLogs(ref, chunks));
  }

  private async retry<T>(what: string, runId: string | null, call: () => Promise<T>): Promise<T> {
    let delay = this.options.firstDelayMs ?? 100;
    const max = this.options.maxDelayMs ?? 5000;
    let failed = false;
    try {
      for (;;) {
        try {
          const result = await call();
          if (failed) {
            failed = false;
            this.failing--;
          }
          if (this.failing === 0) this.recovered();
          return result;
        } catch (error) {
          const reason = storeUnavailableReason(error);
          if (reason === null) throw error;
          if (this.stopped) throw new StoreStoppedError(error);
          if (!failed) {
            failed = true;
            this.failing++;
          }
          this.failed(reason, runId, what, delay);
          await this.sleep(delay);
          if (this.stopped) throw new StoreStoppedError(error);
          delay = Math.min(max, delay * 2);
        }
      }
    } finally {
      // A call that gives up (stopped, or another error after an outage) no longer holds the outage open.
      if (failed) this.failing--;
    }
  }

  private failed(reason: StoreUnavailableReason, runId: string | null, what: string, delay: number): void {
    const now = this.options.clock.now().getTime();
    if (!this.outage) {
      this.outage = { since: now, reason, runs: new Set() };
      this.options.log(`store unavailable (${reason}): holding reports and retrying with backoff; leases do not lapse meanwhile`);
    }
    if (runId !== null && !this.outage.runs.has(runId)) {
      this.outage.runs.add(runId);
      this.options.log(`run ${runId}: waiting for the store (${reason}) ${what}; retrying in ${delay} ms, then up to every ${this.options.maxDelayMs ?? 5000} ms`);
    }
  }

  private recovered(): void {
    const outage = this.outage;
    if (!outage) return;
    this.outage = null;
    const seconds = ((this.options.clock.now().getTime() - outage.since) / 1000).toFixed(1);
    this.options.log(`store answers again after ${seconds} s (${outage.reason}); ${outage.runs.size} waiting run(s) carry on`);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        cancel();
        this.waiting.delete(wake);
        resolve();
      };
      const cancel = this.options.clock.setTimer(wake, ms);
      this.waiting.add(wake);
    });
  }
}
