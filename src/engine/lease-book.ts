/**
 * The leases this process holds on behalf of agents: which agent may report
 * on which attempt, until when. A lease is renewed by the agent's heartbeats
 * and reports; one that lapses means the agent is gone (SPEC 7).
 */
import { attemptKey } from "./agent-pool.js";
import type { AttemptRef } from "./ports.js";

export interface Lease {
  ref: AttemptRef;
  agentId: string;
  expiresAt: number;
}

export class LeaseBook {
  private readonly leases = new Map<string, Lease>();

  constructor(
    private readonly leaseMs: number,
    private readonly now: () => number,
  ) {}

  grant(ref: AttemptRef, agentId: string): void {
    this.leases.set(attemptKey(ref), { ref, agentId, expiresAt: this.now() + this.leaseMs });
  }

  /** A lease whose clock has not started: it does not lapse before `startHeld()` (see Engine.agentsReady). */
  grantHeld(ref: AttemptRef, agentId: string): void {
    this.leases.set(attemptKey(ref), { ref, agentId, expiresAt: Infinity });
  }

  /** Starts the clock of the held leases: each lapses one lease period from now unless renewed. */
  startHeld(): void {
    const expiresAt = this.now() + this.leaseMs;
    for (const lease of this.leases.values()) if (lease.expiresAt === Infinity) lease.expiresAt = expiresAt;
  }

  /** Moves every lease's expiry `ms` later: time in which this process could not hear its agents (lease-sweep.ts). */
  /** Every lease runs at least one whole period from now (the server could not hear agents until now). */
  renewAll(): void {
    const floor = this.now() + this.leaseMs;
    for (const lease of this.leases.values()) if (lease.expiresAt < floor) lease.expiresAt = floor;
  }

  extendAll(ms: number): void {
    for (const lease of this.leases.values()) lease.expiresAt += ms;
  }

  get(ref: AttemptRef): Lease | undefined {
    return this.leases.get(attemptKey(ref));
  }

  has(ref: AttemptRef): boolean {
    return this.leases.has(attemptKey(ref));
  }

  holds(agentId: string, ref: AttemptRef): boolean {
    return this.get(ref)?.agentId === agentId;
  }

  /** Renews one lease, if the agent holds it. */
  renew(agentId: string, ref: AttemptRef): void {
    const lease = this.get(ref);
    if (lease?.agentId === agentId) lease.expiresAt = this.now() + this.leaseMs;
  }

  /** A heartbeat: renews the agent's leases of the attempts it reports running. */
  renewRunning(agentId: string, running: readonly AttemptRef[]): void {
    const expiresAt = this.now() + this.leaseMs;
    for (const ref of running) {
      const lease = this.get(ref);
      if (lease?.agentId === agentId) lease.expiresAt = expiresAt;
    }
  }

  delete(ref: AttemptRef): Lease | undefined {
    const lease = this.get(ref);
    this.leases.delete(attemptKey(ref));
    return lease;
  }

  /** Removes and returns the leases that lapsed. */
  takeExpired(): Lease[] {
    const now = this.now();
    const expired = [...this.leases.values()].filter((l) => l.expiresAt <= now);
    for (const l of expired) this.leases.delete(attemptKey(l.ref));
    return expired;
  }

  /** Removes and returns every lease of a run. */
  takeRun(runId: string): Lease[] {
    const taken = [...this.leases.values()].filter((l) => l.ref.runId === runId);
    for (const l of taken) this.leases.delete(attemptKey(l.ref));
    return taken;
  }

  ofAgent(agentId: string): Lease[] {
    return [...this.leases.values()].filter((l) => l.agentId === agentId);
  }
}
