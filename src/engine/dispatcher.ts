/**
 * Matches queued attempts with agents: reserves a free slot and a lease,
 * records `attempt.leased` through the engine, pushes the assignment down the
 * agent's stream, and asks a provider for an agent when no connected one can
 * take the attempt. Work moves the moment something changes — an event, an
 * agent connecting, a retry's backoff ending — never on a polling tick.
 */
import type { PlannedStage } from "../pipeline-parser/types.js";
import type { DirectorySource, RunEventBody, RunSource } from "../saga/events.js";
import { failFastCancels } from "../saga/matrix-strategy.js";
import type { RunState, StageState } from "../saga/run-state.js";
import { AgentPool, attemptKey } from "./agent-pool.js";
import { LeaseBook } from "./lease-book.js";
import type { AgentLink, Assignment, AttemptRef, Clock, Provisioner } from "./ports.js";
import { stageEnvironment } from "./stage-environment.js";

export interface DispatcherDeps {
  /** The runs this process drives, oldest first. */
  active(): ReadonlyMap<string, RunState>;
  advance(runId: string, incoming: (s: RunState) => RunEventBody[] | null): Promise<RunState | null>;
  resolveSource(runId: string, source: RunSource): Promise<DirectorySource>;
  clock: Clock;
  leaseMs: number;
  provisioners: Partial<Record<string, Provisioner>>;
  onError(error: unknown, context: string): void;
}

export class Dispatcher {
  readonly pool = new AgentPool();
  readonly leases: LeaseBook;
  /** Attempts an agent was provisioned for and not yet released. */
  private readonly provisioned = new Set<string>();
  /** Attempts cancelled for fail-fast, until they end (so each is asked once per process). */
  private readonly failFastCancelled = new Set<string>();
  private dispatchQueued = false;
  private dispatchTimer: (() => void) | null = null;
  private dispatchTimerAt = Infinity;
  private stopped = false;

  constructor(private readonly deps: DispatcherDeps) {
    this.leases = new LeaseBook(deps.leaseMs, () => deps.clock.now().getTime());
  }

  stop(): void {
    this.stopped = true;
    this.dispatchTimer?.();
  }

  /** Pushes the assignments of attempts leased by leaseReady, once their events are stored. */
  async assignPlaced(state: RunState, placed: readonly { link: AgentLink; ref: AttemptRef }[]): Promise<void> {
    if (placed.length === 0) return;
    const source = await this.deps.resolveSource(state.id, state.meta.source);
    for (const p of placed) {
      const s = state.stages.get(p.ref.stageId);
      if (s) p.link.assign(assignmentFor(state, s, source));
    }
  }

  /** The assignment of a stage's current attempt, its source resolved. */
  async assignment(state: RunState, s: StageState): Promise<Assignment> {
    return assignmentFor(state, s, await this.deps.resolveSource(state.id, state.meta.source));
  }

  /** Re-sends the assignments of attempts leased to this agent that it has not started. */
  async reassign(link: AgentLink): Promise<void> {
    for (const lease of this.leases.ofAgent(link.id)) {
      const state = this.deps.active().get(lease.ref.runId);
      const s = state?.stages.get(lease.ref.stageId);
      if (!state || !s || s.phase !== "leased" || s.agentId !== link.id || s.attempt !== lease.ref.attempt) continue;
      link.assign(assignmentFor(state, s, await this.deps.resolveSource(state.id, state.meta.source)));
    }
  }

  /** Undoes the reservations of leaseReady when its append failed. */
  unplace(placed: readonly { link: AgentLink; ref: AttemptRef }[]): void {
    for (const p of placed) {
      this.leases.delete(p.ref);
      this.pool.release(p.link.id, p.ref);
    }
  }

  /** Drops what this process holds for a run another process now drives. */
  disown(runId: string): void {
    for (const lease of this.leases.takeRun(runId)) this.pool.release(lease.agentId, lease.ref);
  }

  schedule(): void {
    if (this.dispatchQueued || this.stopped) return;
    this.dispatchQueued = true;
    queueMicrotask(() => {
      this.dispatchQueued = false;
      this.dispatch();
    });
  }

  /** Leases queued stages to free agents, oldest run first, plan order within a run. */
  private dispatch(): void {
    for (const state of this.deps.active().values()) {
      this.cancelForFailFast(state);
      for (const s of state.stages.values()) {
        if (s.phase !== "queued") continue;
        // Most queued stages of a wide run wait for a slot: skip them without building their keys.
        if (!this.deps.provisioners[s.plan.provider] && !this.pool.hasFreeSlot(s.plan.provider)) continue;
        if (s.notBefore && Date.parse(s.notBefore) > this.deps.clock.now().getTime()) {
          this.dispatchAt(Date.parse(s.notBefore));
          continue;
        }
        const ref = refOf(state.id, s);
        if (this.leases.has(ref)) continue;
        const agent = this.pool.pick(s.plan, ref);
        if (!agent) {
          this.provision(ref, s.plan);
          continue;
        }
        // Reserve the slot and the lease now, so the next pass does not pick them again.
        this.pool.hold(agent.link.id, ref);
        this.leases.grant(ref, agent.link.id);
        void this.lease(ref, agent.link).catch((error: unknown) => this.deps.onError(error, `leasing ${ref.stageId}`));
      }
    }
  }

  /**
   * fail-fast (src/saga/matrix-strategy.ts): the running instances of a
   * matrix stage whose sibling failed are cancelled on their agents. Derived
   * from the run's state on every dispatch pass, so a run resumed after a
   * restart is cancelled the same way.
   */
  private cancelForFailFast(state: RunState): void {
    for (const { stage: s, sibling } of failFastCancels(state)) {
      const ref = refOf(state.id, s);
      const key = attemptKey(ref);
      // An agent not connected (yet, after a restart) is asked when it is: its connection schedules a pass.
      const link = s.agentId ? this.pool.get(s.agentId)?.link : undefined;
      if (this.failFastCancelled.has(key) || !link) continue;
      this.failFastCancelled.add(key);
      link.cancel(ref, `fail-fast: ${sibling} failed`);
    }
  }

  /** Dispatches again when a retry's backoff ends (a timer of the clock: virtual in tests). */
  private dispatchAt(time: number): void {
    if (this.dispatchTimer && this.dispatchTimerAt <= time) return;
    this.dispatchTimer?.();
    this.dispatchTimerAt = time;
    this.dispatchTimer = this.deps.clock.setTimer(() => {
      this.dispatchTimer = null;
      this.dispatchTimerAt = Infinity;
      this.schedule();
    }, Math.max(0, time - this.deps.clock.now().getTime()));
  }

  private provision(ref: AttemptRef, stage: PlannedStage): void {
    const provisioner = this.deps.provisioners[stage.provider];
    const key = attemptKey(ref);
    if (!provisioner || this.provisioned.has(key)) return;
    this.provisioned.add(key);
    provisioner.provision(ref, stage);
  }

  /**
   * An attempt leased before this process started, on a provider that
   * provisions per attempt: its worker may have been re-adopted, so it is
   * released like one provisioned here when the attempt ends.
   */
  resumeProvisioned(ref: AttemptRef, provider: string): void {
    if (this.deps.provisioners[provider]) this.provisioned.add(attemptKey(ref));
  }

  private releaseProvisioned(ref: AttemptRef, provider: string): void {
    if (!this.provisioned.delete(attemptKey(ref))) return;
    this.deps.provisioners[provider]?.release(ref);
  }

  private async lease(ref: AttemptRef, link: AgentLink): Promise<void> {
    let assignment: Assignment | null = null;
    const planned = this.deps.active().get(ref.runId)?.meta.source;
    const source = planned ? await this.deps.resolveSource(ref.runId, planned) : null;
    await this.deps.advance(ref.runId, (state) => {
      const s = state.stages.get(ref.stageId);
      if (!s || s.phase !== "queued" || s.attempt !== ref.attempt || !source) return null;
      assignment = assignmentFor(state, s, source);
      return [{ type: "attempt.leased", data: { ...ref, agentId: link.id } }];
    });
    if (!assignment) {
      this.leases.delete(ref);
      this.pool.release(link.id, ref);
      this.schedule();
      return;
    }
    // If the stream is gone the lease simply lapses and the attempt ends lost.
    link.assign(assignment);
  }

  /**
   * Inside an advance of an owned run: leases the stages that just became
   * ready to free agents, as events of the same append, so a stage goes from
   * queued to an agent without a second round trip. Stages it cannot place
   * (no free agent, a source that does not resolve yet) are left to dispatch().
   */
  async leaseReady(
    working: RunState,
    batch: RunEventBody[],
    /** The append's time: a retry whose backoff ends after it waits for dispatch(). */
    now: number,
  ): Promise<{ placed: { link: AgentLink; ref: AttemptRef }[] }> {
    const ready = [...working.stages.values()].filter(
      (s) =>
        s.phase === "queued" &&
        this.pool.hasFreeSlot(s.plan.provider) &&
        !(s.notBefore && Date.parse(s.notBefore) > now) &&
        !this.leases.has(refOf(working.id, s)),
    );
    const placed: { link: AgentLink; ref: AttemptRef }[] = [];
    if (ready.length === 0) return { placed };
    try {
      await this.deps.resolveSource(working.id, working.meta.source);
    } catch {
      return { placed };
    }
    for (const s of ready) {
      const ref = refOf(working.id, s);
      const agent = this.pool.pick(s.plan, ref);
      if (!agent) continue;
      this.pool.hold(agent.link.id, ref);
      this.leases.grant(ref, agent.link.id);
      batch.push({ type: "attempt.leased", data: { ...ref, agentId: agent.link.id } });
      placed.push({ link: agent.link, ref });
    }
    return { placed };
  }

  /** Frees the agent slot, lease and provisioned resources of attempts these events end. */
  releaseEnded(state: RunState, events: readonly RunEventBody[]): void {
    for (const e of events) {
      if (e.type !== "attempt.finished" && e.type !== "stage.completed") continue;
      const s = state.stages.get(e.data.stageId);
      const attempt = e.type === "attempt.finished" ? e.data.attempt : (s?.attempt ?? 0);
      const ref = { runId: state.id, stageId: e.data.stageId, attempt };
      if (s) this.releaseProvisioned(ref, s.plan.provider);
      this.failFastCancelled.delete(attemptKey(ref));
      const lease = this.leases.delete(ref);
      if (lease) this.pool.release(lease.agentId, ref);
    }
  }
}

function assignmentFor(state: RunState, s: StageState, source: DirectorySource): Assignment {
  return {
    ...refOf(state.id, s),
    stage: s.plan,
    source,
    env: stageEnvironment(state, s.plan, s.attempt),
    repo: state.meta.repo,
  };
}

function refOf(runId: string, s: StageState): AttemptRef {
  return { runId, stageId: s.plan.id, attempt: s.attempt };
}
