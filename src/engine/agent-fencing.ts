/**
 * Fencing, the server's half (the agent's is its self-fencing deadline,
 * src/agent/lease-watchdog.ts): what happens when a lease lapses, and how an
 * agent that lost one gets work again.
 *
 * A lapsed lease ends its attempt lost and fences the agent: it gets no new
 * work, because a frozen agent that resumes may still run the attempt the
 * server gave up on. Its heartbeat says what it really runs: an attempt of a
 * run this process drives that is no longer the agent's is cancelled (the
 * agent kills its process group), and once a heartbeat lists only attempts
 * it holds, the fence is lifted. Attempts of runs this process does not
 * drive (another server's, or not yet adopted in a fail-over) are neither
 * cancelled nor counted against the agent.
 */
import type { RunState } from "../saga/run-state.js";
import type { Dispatcher } from "./dispatcher.js";
import type { Incoming } from "./incoming.js";
import * as incomings from "./incoming.js";
import type { Lease } from "./lease-book.js";
import type { AttemptRef } from "./ports.js";

export interface AgentFencingDeps {
  dispatcher: Dispatcher;
  /** The runs this process drives. */
  active(): ReadonlyMap<string, RunState>;
  advance(runId: string, incoming: Incoming): Promise<unknown>;
  onError(error: unknown, context: string): void;
}

export class AgentFencing {
  constructor(private readonly deps: AgentFencingDeps) {}

  /** Leases that lapsed: a live agent's are renewed by its heartbeats, so these belong to one that is gone or stuck. */
  async expire(expired: readonly Lease[]): Promise<void> {
    const { dispatcher } = this.deps;
    for (const lease of expired) {
      dispatcher.pool.release(lease.agentId, lease.ref);
      dispatcher.pool.fence(lease.agentId);
      try {
        await this.deps.advance(lease.ref.runId, incomings.leaseExpiry(lease.ref));
      } catch (error) {
        this.deps.onError(error, "expiring a lease");
      }
    }
  }

  /** A heartbeat's list of running attempts: cancels the stale ones, lifts the fence once it is clean. */
  check(agentId: string, running: readonly AttemptRef[]): void {
    const { dispatcher } = this.deps;
    let clean = true;
    for (const ref of running) {
      if (dispatcher.leases.holds(agentId, ref)) continue;
      clean = false;
      const s = this.deps.active().get(ref.runId)?.stages.get(ref.stageId);
      const stillTheirs = s && s.attempt === ref.attempt && s.agentId === agentId && (s.phase === "leased" || s.phase === "running");
      if (s && !stillTheirs) dispatcher.pool.get(agentId)?.link.cancel(ref, "the attempt is no longer leased to this agent (its lease lapsed)");
    }
    if (clean && dispatcher.pool.unfence(agentId)) dispatcher.schedule();
  }
}
