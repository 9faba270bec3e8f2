/**
 * Keeps this process's claim on the runs it drives: renews ownership on a
 * timer, lets go of runs another process took, re-reads runs others wrote
 * to, and claims runs whose owner stopped renewing (it died). The timer only
 * bounds how fast a dead owner is replaced; work is never dispatched by it.
 */
import type { RunStore } from "./ports.js";

export interface OwnershipKeeperHooks {
  /** The runs this process drives, with the seq of the state it holds. */
  driven(): ReadonlyMap<string, { seq: number }>;
  disown(runId: string): void;
  refresh(runId: string): Promise<void>;
  adopt(runIds: readonly string[]): Promise<unknown>;
  onError(error: unknown, context: string): void;
}

export class OwnershipKeeper {
  private timer: NodeJS.Timeout | null = null;
  private busy = false;

  constructor(
    private readonly store: RunStore,
    private readonly hooks: OwnershipKeeperHooks,
  ) {}

  start(ownershipMs: number): void {
    this.timer = setInterval(() => void this.keep(), Math.max(100, Math.floor(ownershipMs / 3)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async keep(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const owned = new Map((await this.store.renewOwnership()).map((r) => [r.runId, r.lastSeq]));
      for (const [runId, state] of this.hooks.driven()) {
        const lastSeq = owned.get(runId);
        if (lastSeq === undefined) this.hooks.disown(runId);
        else if (lastSeq > state.seq) void this.hooks.refresh(runId);
      }
      await this.hooks.adopt(await this.store.claimRuns());
    } catch (error) {
      this.hooks.onError(error, "keeping run ownership");
    } finally {
      this.busy = false;
    }
  }
}
