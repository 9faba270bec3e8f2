/**
 * The engine drives runs: it appends what the agents report, asks the saga
 * core what follows (`decide`), leases queued stages to free agents, and
 * expires the leases of agents that went quiet. Every change is an event in
 * the store before anyone is told about it; the in-memory maps here are a
 * cache of the store and of the live agent connections, rebuilt on start.
 */
import { randomUUID } from "node:crypto";
import type { AttemptOutcome, RunEventBody, RunPlannedData } from "../saga/events.js";
import { decide } from "../saga/decide.js";
import { rerunTargets } from "../saga/rerun.js";
import { applyPending, type RunState, type StageState } from "../saga/run-state.js";
import { AgentFencing } from "./agent-fencing.js";
import { Dispatcher } from "./dispatcher.js";
import { LeaseSweeper } from "./lease-sweep.js";
import { OutageTolerantStore } from "./outage-tolerant-store.js";
import { systemClock } from "./system-clock.js";
import { RunNotFoundError, type EngineListener, type EngineOptions } from "./engine-options.js";
import { OwnershipKeeper } from "./ownership-keeper.js";
import { RunObservers } from "./run-observers.js";
import { GroupCommit } from "./group-commit.js";
import * as incomings from "./incoming.js";
import type { Incoming, ResultLogs, Submission } from "./incoming.js";
import { KeyedQueue } from "./keyed-queue.js";
import {
  ConcurrentAppendError,
  OwnershipLostError,
  type AgentLink,
  type AppendMode,
  type Assignment,
  type AttemptLogs,
  type AttemptRef,
  type Clock,
  type LogChunk,
  type RunStore,
} from "./ports.js";

export { RunNotFoundError, type EngineListener, type EngineOptions } from "./engine-options.js";

/** How long a start report waits to share its append with the attempt's next report. */
export const STARTED_LINGER_MS = 10;
/** Output sent with a result up to this size (UTF-16 units) is stored in the result's append. */
export const FOLDED_LOG_CHARS = 16 * 1024;

export class Engine {
  private readonly store: RunStore;
  private readonly clock: Clock;
  private readonly leaseMs: number;
  private readonly newRunId: () => string;
  private readonly onError: (error: unknown, context: string) => void;
  private readonly queue = new KeyedQueue();
  /** `drive` advances of one run that queue up together are stored as one append. */
  private readonly driven = new GroupCommit<Submission, RunState | null>(this.queue, (runId, items) =>
    this.advanceNow(
      runId,
      incomings.combine(items.map((i) => i.incoming)),
      "drive",
      items.flatMap((i) => (i.logs ? [i.logs] : [])),
    ),
  );
  /** Unfinished runs, in creation order. */
  private readonly active = new Map<string, RunState>();
  private readonly dispatcher: Dispatcher;
  private readonly ownership: OwnershipKeeper;
  private readonly observers: RunObservers;
  private readonly fencing: AgentFencing;
  private sweeper: LeaseSweeper | null = null;
  /** The store as the engine uses it: calls wait out an unavailable store (outage-tolerant-store.ts). */
  private readonly outages: OutageTolerantStore;
  /** False from a `start({ agentsReadyLater })` until `agentsReady()`: adopted leases wait for it. */
  private agentsListening = true;
  private unwatch: (() => Promise<void>) | null = null;
  private readonly ownershipMs: number;
  private stopped = false;

  constructor(options: EngineOptions) {
    this.clock = options.clock ?? systemClock;
    this.outages = new OutageTolerantStore(options.store, {
      clock: this.clock,
      log: options.log ?? ((message) => console.error(`hodei engine: ${message}`)),
    });
    this.store = this.outages;
    this.leaseMs = options.leaseMs ?? 15_000;
    this.ownershipMs = options.ownershipMs ?? this.leaseMs;
    this.newRunId = options.newRunId ?? randomUUID;
    this.onError = options.onError ?? ((error, context) => console.error(`hodei engine: ${context}:`, error));
    this.observers = new RunObservers(this.onError);
    this.ownership = new OwnershipKeeper(this.store, {
      driven: () => this.active,
      disown: (runId) => this.disown(runId),
      refresh: (runId) => this.refresh(runId),
      adopt: (ids) => this.adopt(ids),
      onError: this.onError,
    });
    this.dispatcher = new Dispatcher({
      active: () => this.active,
      advance: (runId, incoming) => this.advance(runId, incoming),
      resolveSource:
        options.resolveSource ??
        ((_runId, source) =>
          source.kind === "directory" ? Promise.resolve(source) : Promise.reject(new Error(`no resolveSource for a ${source.kind} source`))),
      clock: this.clock,
      leaseMs: this.leaseMs,
      provisioners: options.provisioners ?? {},
      onError: this.onError,
    });
    this.fencing = new AgentFencing({
      dispatcher: this.dispatcher,
      active: () => this.active,
      advance: (runId, incoming) => this.advance(runId, incoming),
      onError: this.onError,
    });
  }

  /**
   * Claims and resumes every unfinished run nobody else drives, starts the
   * lease sweeper and the ownership keeper, and listens for appends by other
   * processes (a cancel arriving through another server).
   *
   * `agentsReadyLater`: agents cannot reach this process yet (or its own
   * local agents are still to start); the leases of the attempts it resumes
   * do not start to run until `agentsReady()`.
   */
  async start(options: { agentsReadyLater?: boolean } = {}): Promise<{ resumed: string[] }> {
    if (options.agentsReadyLater) this.agentsListening = false;
    const resumed = await this.adopt(await this.store.claimRuns());
    this.unwatch = await this.store.watchRuns((runId) => {
      if (this.active.has(runId)) void this.refresh(runId);
    });
    const sweepEvery = Math.max(50, Math.min(1000, Math.floor(this.leaseMs / 4)));
    this.sweeper = new LeaseSweeper(this.dispatcher.leases, this.clock, sweepEvery, (expired) => void this.fencing.expire(expired), () => this.outages.unavailable);
    this.sweeper.start();
    this.ownership.start(this.ownershipMs);
    return { resumed };
  }

  /**
   * Agents can reach this process now (its agent listener is up, its local
   * agents started): the leases of the attempts resumed at start begin to
   * run from here, so agents that kept running them through a slow restart
   * (store open, migrations) get a whole lease period to reconnect.
   */
  agentsReady(): void {
    this.agentsListening = true;
    this.dispatcher.leases.startHeld();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sweeper?.stop();
    this.ownership.stop();
    this.dispatcher.stop();
    this.outages.stop();
    await this.unwatch?.();
    await this.queue.idle();
  }

  /** Loads claimed runs, re-grants the leases of their running attempts, and drives them on. */
  private async adopt(ids: readonly string[]): Promise<string[]> {
    const adopted: string[] = [];
    const agentsOfAdopted = new Set<string>();
    for (const id of ids) {
      if (this.active.has(id)) continue;
      const state = await this.store.load(id);
      if (!state || state.conclusion) continue;
      this.active.set(id, state);
      adopted.push(id);
      // Agents that were running these attempts get one lease period to come
      // back, counted from when they can (agentsReady).
      for (const s of state.stages.values()) {
        if ((s.phase !== "leased" && s.phase !== "running") || !s.agentId) continue;
        if (this.agentsListening) this.dispatcher.leases.grant(refOf(state.id, s), s.agentId);
        else this.dispatcher.leases.grantHeld(refOf(state.id, s), s.agentId);
        this.dispatcher.resumeProvisioned(refOf(state.id, s), s.plan.provider);
        this.dispatcher.pool.hold(s.agentId, refOf(state.id, s));
        agentsOfAdopted.add(s.agentId);
      }
    }
    // An agent that connected before these runs were adopted (or while their
    // owner was alive) has not been re-sent the assignments it may never have
    // got (a crash between storing a lease and pushing it): send them now.
    for (const agentId of agentsOfAdopted) {
      const link = this.dispatcher.pool.get(agentId)?.link;
      if (link) void this.dispatcher.reassign(link).catch((error: unknown) => this.onError(error, `re-sending assignments to ${agentId}`));
    }
    for (const id of ids) await this.advance(id, null).catch((error: unknown) => this.onError(error, `resuming run ${id}`));
    return adopted;
  }

  /** Re-reads a run another writer appended to, then decides again. */
  private async refresh(runId: string): Promise<void> {
    await this.queue
      .run(runId, async () => {
        const state = await this.store.load(runId);
        if (state && this.active.has(runId)) this.active.set(runId, state);
      })
      .catch((error: unknown) => this.onError(error, `re-reading run ${runId}`));
    await this.advance(runId, null).catch((error: unknown) => this.onError(error, `advancing run ${runId}`));
    const state = this.active.get(runId);
    if (state?.cancelRequested) this.cancelAttempts(state);
  }

  private disown(runId: string): void {
    this.active.delete(runId);
    this.dispatcher.disown(runId);
  }

  subscribe(listener: EngineListener): () => void {
    return this.observers.subscribe(listener);
  }

  async startRun(run: RunPlannedData): Promise<string> {
    const runId = this.newRunId();
    await this.queue.run(runId, async () => {
      const state = await this.store.create(runId, { type: "run.planned", data: run }, this.now());
      this.active.set(runId, state);
      this.observers.events(state, [{ type: "run.planned", data: run, seq: 1, at: state.createdAt }]);
    });
    await this.advance(runId, null);
    return runId;
  }

  /** Requests cancellation; the run's owner (this process or another) kills its running attempts. */
  async cancelRun(runId: string, reason: string): Promise<boolean> {
    const state = await this.advance(runId, incomings.cancelRequest(reason), "external");
    if (!state) return false;
    if (this.active.has(runId)) this.cancelAttempts(state);
    return true;
  }

  /**
   * Approves the run's head (SPEC 6): its stages that wait for approval may
   * be queued; the run's owner (this process or another) drives them on.
   * `approved` only when the run was waiting for it; `not_waiting` when it
   * has completed, was approved already, needs no approval or is of another head.
   */
  async approveRun(runId: string, approval: { by: string; sha: string }): Promise<"approved" | "not_waiting"> {
    const request = incomings.approvalOf(approval);
    const state = await this.advance(runId, request.incoming, "external");
    if (!state) throw new RunNotFoundError(runId);
    return request.approved() ? "approved" : "not_waiting";
  }

  private cancelAttempts(state: RunState): void {
    for (const s of state.stages.values()) {
      if ((s.phase === "leased" || s.phase === "running") && s.agentId) {
        this.dispatcher.pool.get(s.agentId)?.link.cancel(refOf(state.id, s), "run cancelled");
      }
    }
  }

  /**
   * Re-runs stages of a completed run (and their dependents), or its failed
   * ones; the new attempts are events of the same run. Throws
   * RerunRefusedError (with the reason) or RunNotFoundError.
   */
  async rerun(runId: string, request: { stages: readonly string[] } | { failed: true }, reason: string): Promise<string[]> {
    let stageIds: string[] = [];
    const state = await this.advance(runId, (s) => {
      stageIds = rerunTargets(s, request);
      return [{ type: "run.rerun_requested", data: { stageIds, reason } }];
    }, "claim");
    if (!state) throw new RunNotFoundError(runId);
    return stageIds;
  }

  /** Resolves when the run has completed (immediately if it already has). */
  async waitForRun(runId: string): Promise<RunState> {
    const active = this.active.get(runId);
    if (!active) {
      const stored = await this.store.load(runId);
      if (!stored) throw new RunNotFoundError(runId);
      if (stored.conclusion) return stored;
    }
    return this.observers.completion(runId);
  }

  // ---- the agent side -------------------------------------------------------

  agentConnected(link: AgentLink): void {
    this.dispatcher.pool.add(link, this.clock.now().getTime());
    // Attempts this agent held before a reconnect stay its own; an assignment
    // that was on the old stream when it broke is sent again (the agent
    // ignores one it already has).
    for (const lease of this.dispatcher.leases.ofAgent(link.id)) this.dispatcher.pool.hold(link.id, lease.ref);
    void this.dispatcher.reassign(link).catch((error: unknown) => this.onError(error, `re-sending assignments to ${link.id}`));
    this.dispatcher.schedule();
  }

  agentDisconnected(agentId: string): void {
    // Its leases stay until they lapse: the agent may reconnect and carry on.
    this.dispatcher.pool.remove(agentId);
  }

  /**
   * Renews the leases of the attempts the agent says it is running. A lease
   * it holds but does not report (an assignment lost in a crash) is not
   * renewed, so it lapses and the attempt is retried. What it runs and no
   * longer holds is fenced (agent-fencing.ts).
   */
  heartbeat(agentId: string, running: readonly AttemptRef[]): void {
    this.dispatcher.leases.renewRunning(agentId, running);
    this.fencing.check(agentId, running);
  }

  /**
   * Records that the attempt's command started (protocol 3 agents say so only
   * for a stage still running after STARTED_REPORT_DELAY_MS). The append
   * lingers up to STARTED_LINGER_MS for the attempt's next report, so the
   * start's time is that much late at most.
   */
  attemptStarted(agentId: string, ref: AttemptRef): Promise<boolean> {
    return this.report(agentId, ref, incomings.startReport(ref, agentId), STARTED_LINGER_MS);
  }

  async attemptLogs(agentId: string, ref: AttemptRef, chunks: readonly LogChunk[]): Promise<boolean> {
    if (!this.holds(agentId, ref) && !(await this.foreignAttemptOf(agentId, ref))) return false;
    await this.store.appendLogs(ref, chunks);
    this.observers.logs(ref, chunks);
    return true;
  }

  /**
   * Records an attempt's result. `chunks`, its last output sent with it
   * (protocol 3), are stored in the same append when they are small; larger
   * ones first, on their own, rather than copied into the append's document.
   */
  async attemptFinished(
    agentId: string,
    ref: AttemptRef,
    result: { outcome: AttemptOutcome; exitCode: number | null; reason: string | null },
    chunks: readonly LogChunk[] = [],
  ): Promise<boolean> {
    if (chunks.reduce((n, c) => n + c.data.length, 0) > FOLDED_LOG_CHARS) {
      if (!(await this.attemptLogs(agentId, ref, chunks))) return false;
      chunks = [];
    }
    return this.report(agentId, ref, incomings.resultReport(ref, agentId, result), 0, chunks);
  }

  /**
   * A provisioner could not bring up (or keep) the agent of an attempt: a bad
   * image, a container or pod that died, an agent that never connected. Ends
   * the attempt as lost with `reason` (retried while retries remain). An
   * attempt no agent took yet is first leased to the provisioner itself, so
   * the history says who gave it up. False if the attempt is no longer current.
   */
  async provisioningFailed(ref: AttemptRef, provider: string, reason: string): Promise<boolean> {
    const loss = incomings.provisioningLoss(ref, provider, reason);
    await this.advance(ref.runId, loss.incoming);
    return loss.ended();
  }

  /** The assignment of an attempt this process has leased and not seen end, with its agent. */
  async currentAssignment(ref: AttemptRef): Promise<{ agentId: string; assignment: Assignment } | null> {
    const lease = this.dispatcher.leases.get(ref);
    const state = this.active.get(ref.runId);
    const s = state?.stages.get(ref.stageId);
    if (!lease || !state || !s || s.attempt !== ref.attempt || s.agentId !== lease.agentId) return null;
    return { agentId: lease.agentId, assignment: await this.dispatcher.assignment(state, s) };
  }

  /** True if the attempt is the stage's current one and leased to this agent. */
  holds(agentId: string, ref: AttemptRef): boolean {
    return this.dispatcher.leases.holds(agentId, ref);
  }

  /** Why the engine's store calls are waiting for the store to answer again, while they are; else null. */
  get storeOutage(): string | null {
    return this.outages.outageReason;
  }

  get connectedAgents(): number {
    return this.dispatcher.pool.size;
  }

  /**
   * Fail-over: an agent whose server died reports here on an attempt of a run
   * this process does not drive (not adopted yet, or driven by a peer). What
   * it says counts if the stored run says the attempt is current and the
   * agent's; the run's owner, or whoever adopts it, decides what follows.
   */
  private async foreignAttemptOf(agentId: string, ref: AttemptRef): Promise<boolean> {
    if (this.active.has(ref.runId)) return false;
    const s = (await this.store.load(ref.runId))?.stages.get(ref.stageId);
    return !!s && s.attempt === ref.attempt && s.agentId === agentId && (s.phase === "leased" || s.phase === "running");
  }

  // ---- internals -------------------------------------------------------------

  private async report(
    agentId: string,
    ref: AttemptRef,
    events: (s: StageState) => RunEventBody[] | null,
    lingerMs = 0,
    chunks: readonly LogChunk[] = [],
  ): Promise<boolean> {
    const report = incomings.agentReport(agentId, ref, events);
    const logs = chunks.length > 0 ? { logs: { ref, chunks }, accepted: () => report.accepted() } : undefined;
    if (!this.active.has(ref.runId)) {
      // Another process's run, or one not adopted yet (fail-over): stored as it is, decided by its owner.
      await this.queue.run(ref.runId, () => this.advanceNow(ref.runId, report.incoming, "external", logs ? [logs] : []));
      return report.accepted();
    }
    await this.driven.submit(ref.runId, { incoming: report.incoming, logs }, { lingerMs });
    if (report.accepted()) this.dispatcher.leases.renew(agentId, ref);
    return report.accepted();
  }

  /**
   * Under the run's queue: applies `incoming` (computed from the current
   * state; null = nothing to do), then — for a run this process owns — the
   * engine's own decisions until there are none, then leases what became
   * ready. `drive` (the default) touches only owned runs; `external` appends
   * to a run owned elsewhere without driving it; `claim` takes the run over.
   * A concurrent writer makes the append fail; the state is then re-read and
   * `incoming` computed again. `drive` advances that queue up behind one
   * another are one group commit: one decide, one append.
   */
  private advance(runId: string, incoming: Incoming | null, mode: "drive" | "external" | "claim" = "drive"): Promise<RunState | null> {
    if (mode === "drive") return this.driven.submit(runId, { incoming });
    return this.queue.run(runId, () => this.advanceNow(runId, incoming, mode));
  }

  private async advanceNow(
    runId: string,
    incoming: Incoming | null,
    mode: "drive" | "external" | "claim",
    logs: ResultLogs[] = [],
  ): Promise<RunState | null> {
    for (let tries = 0; ; tries++) {
      try {
        return await this.advanceOnce(runId, incoming, mode, logs);
      } catch (error) {
        if (error instanceof OwnershipLostError) {
          this.disown(runId);
          return null;
        }
        if (!(error instanceof ConcurrentAppendError) || tries >= 5) throw error;
        const fresh = await this.store.load(runId);
        if (fresh && this.active.has(runId)) this.active.set(runId, fresh);
      }
    }
  }

  private async advanceOnce(
    runId: string,
    incoming: Incoming | null,
    mode: "drive" | "external" | "claim",
    logs: readonly ResultLogs[],
  ): Promise<RunState | null> {
    const owned = this.active.get(runId);
    if (!owned && mode === "drive") return null;
    let state = owned ?? (await this.store.load(runId));
    if (!state) return null;
    // The time of this append: what is folded here and what is stored carry the same.
    const at = this.now();
    const batch: RunEventBody[] = [];
    if (incoming) batch.push(...(incoming(state, at) ?? []));
    if (!owned && (mode === "external" || batch.length === 0)) {
      const withLogs = logs.filter((l) => l.accepted()).map((l) => l.logs);
      return batch.length > 0 ? this.append(state, batch, at, "external", withLogs) : state;
    }
    // The run is (or is about to be, by claim) this process's: add every decision
    // that follows, folded locally, and store it all in one append.
    let working = applyPending(state, batch, at);
    for (let decided = decide(working); decided.length > 0; decided = decide(working)) {
      batch.push(...decided);
      working = applyPending(working, decided, at);
    }
    // An attempt that ends here frees its agent for what becomes ready here.
    this.dispatcher.releaseEnded(state, batch);
    const { placed } = await this.dispatcher.leaseReady(working, batch, Date.parse(at));
    try {
      // The output of the results accepted in this computation of `incoming`.
      const withLogs = logs.filter((l) => l.accepted()).map((l) => l.logs);
      if (batch.length > 0) state = await this.append(state, batch, at, owned ? "owner" : "claim", withLogs);
    } catch (error) {
      this.dispatcher.unplace(placed);
      throw error;
    }
    await this.dispatcher.assignPlaced(state, placed);
    if (state.conclusion) {
      this.active.delete(runId);
      this.observers.completed(runId, state);
    } else {
      this.active.set(runId, state);
      this.dispatcher.schedule();
    }
    return state;
  }

  private async append(
    state: RunState,
    events: readonly RunEventBody[],
    at: string,
    mode: AppendMode,
    logs: readonly AttemptLogs[] = [],
  ): Promise<RunState> {
    const next = await this.store.append(state, events, at, mode, logs);
    for (const l of logs) this.observers.logs(l.ref, l.chunks);
    this.dispatcher.releaseEnded(state, events);
    this.observers.events(
      next,
      events.map((e, i) => ({ ...e, seq: state.seq + i + 1, at })),
    );
    return next;
  }

  private now(): string {
    return this.clock.now().toISOString();
  }
}

function refOf(runId: string, s: StageState): AttemptRef {
  return { runId, stageId: s.plan.id, attempt: s.attempt };
}
