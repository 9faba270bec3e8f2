/**
 * The connected agents and their free slots. Pure bookkeeping: which agent
 * may take which stage (its `provider` label), and which attempts it holds.
 */
import { labelsSatisfy } from "../pipeline-parser/runs-on.js";
import type { PlannedStage } from "../pipeline-parser/types.js";
import type { AgentLink, AttemptRef } from "./ports.js";

export interface PooledAgent {
  link: AgentLink;
  held: Map<string, AttemptRef>;
  connectedAt: number;
}

/** The label a provisioned agent carries naming the one attempt it exists for. */
export const ATTEMPT_LABEL = "hodei.attempt";
export const attemptLabel = (ref: AttemptRef): string => `${ref.runId}/${ref.stageId}/${ref.attempt}`;

export const attemptKey = (ref: AttemptRef): string => `${ref.runId}\u0000${ref.stageId}\u0000${ref.attempt}`;

export class AgentPool {
  private readonly agents = new Map<string, PooledAgent>();
  /**
   * Agents a lease of which lapsed: they get no new work until a heartbeat
   * says what they really run (`unfence`). Kept across reconnects.
   */
  private readonly fenced = new Set<string>();

  fence(agentId: string): void {
    this.fenced.add(agentId);
  }

  /** True if the agent was fenced. */
  unfence(agentId: string): boolean {
    return this.fenced.delete(agentId);
  }

  isFenced(agentId: string): boolean {
    return this.fenced.has(agentId);
  }

  add(link: AgentLink, now: number): void {
    const existing = this.agents.get(link.id);
    this.agents.set(link.id, { link, held: existing?.held ?? new Map<string, AttemptRef>(), connectedAt: now });
  }

  remove(agentId: string): PooledAgent | undefined {
    const agent = this.agents.get(agentId);
    this.agents.delete(agentId);
    return agent;
  }

  get(agentId: string): PooledAgent | undefined {
    return this.agents.get(agentId);
  }

  get size(): number {
    return this.agents.size;
  }

  /**
   * An agent with a free slot that serves the stage's provider; least loaded
   * first. An agent provisioned for one attempt (label `hodei.attempt`) takes
   * only that attempt; a stage with `runs-on` goes only to an agent with
   * those labels.
   */
  pick(stage: PlannedStage, ref: AttemptRef): PooledAgent | undefined {
    let best: PooledAgent | undefined;
    for (const agent of this.agents.values()) {
      if (agent.held.size >= agent.link.capacity || this.fenced.has(agent.link.id)) continue;
      if ((agent.link.labels.provider ?? "local") !== stage.provider) continue;
      const dedicated = agent.link.labels[ATTEMPT_LABEL];
      if (dedicated !== undefined && dedicated !== attemptLabel(ref)) continue;
      if (stage.runsOn && !labelsSatisfy(stage.runsOn, agent.link.labels)) continue;
      if (!best || agent.held.size < best.held.size) best = agent;
    }
    return best;
  }

  /** True if some agent serving `provider` has a free slot (it may still be dedicated to another attempt). */
  hasFreeSlot(provider: string): boolean {
    for (const agent of this.agents.values()) {
      if (this.fenced.has(agent.link.id)) continue;
      if (agent.held.size < agent.link.capacity && (agent.link.labels.provider ?? "local") === provider) return true;
    }
    return false;
  }

  hold(agentId: string, ref: AttemptRef): void {
    this.agents.get(agentId)?.held.set(attemptKey(ref), ref);
  }

  release(agentId: string, ref: AttemptRef): void {
    this.agents.get(agentId)?.held.delete(attemptKey(ref));
  }

  all(): IterableIterator<PooledAgent> {
    return this.agents.values();
  }
}
