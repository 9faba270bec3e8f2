/**
 * Who watches the engine's runs: listeners that see every stored event and
 * log batch (metrics, logs, traces, the API's streams), and callers waiting
 * for one run to complete. The engine tells it what happened; it does no I/O.
 */
import type { RunEvent } from "../saga/events.js";
import type { RunState } from "../saga/run-state.js";
import type { EngineListener } from "./engine-options.js";
import type { AttemptRef, LogChunk } from "./ports.js";

export class RunObservers {
  private readonly listeners = new Set<EngineListener>();
  private readonly waiters = new Map<string, ((s: RunState) => void)[]>();

  constructor(private readonly onError: (error: unknown, context: string) => void) {}

  subscribe(listener: EngineListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Events just stored; a listener that throws is reported, not propagated. */
  events(state: RunState, events: readonly RunEvent[]): void {
    for (const l of this.listeners) {
      try {
        l.onEvents?.(state, events);
      } catch (error) {
        this.onError(error, "listener");
      }
    }
  }

  logs(ref: AttemptRef, chunks: readonly LogChunk[]): void {
    for (const l of this.listeners) l.onLogs?.(ref, chunks);
  }

  /** Resolves with the run's state when `completed` is called for it. */
  completion(runId: string): Promise<RunState> {
    return new Promise((resolve) => {
      const list = this.waiters.get(runId) ?? [];
      list.push(resolve);
      this.waiters.set(runId, list);
    });
  }

  completed(runId: string, state: RunState): void {
    for (const resolve of this.waiters.get(runId) ?? []) resolve(state);
    this.waiters.delete(runId);
  }
}
