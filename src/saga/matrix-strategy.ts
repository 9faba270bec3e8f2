/**
 * `max-parallel` and `fail-fast` of a matrix stage (its instances carry them
 * in the plan: PlannedStage.maxParallel, .failFast). Both are decisions of
 * the fold (decide.ts), so they hold across servers and restarts with no
 * state of their own: what a run's instances are doing is in its events.
 */
import type { StageConclusion } from "./events.js";
import type { RunState, StageState } from "./run-state.js";

/** An instance holds one of its stage's `max-parallel` slots from being queued until it concludes. */
function holdsSlot(s: StageState): boolean {
  return s.phase === "queued" || s.phase === "leased" || s.phase === "running" || (s.phase === "pending" && s.lastOutcome !== null);
}

/** The slots of each limited matrix stage, counted once per decide call and kept up to date as it decides. */
export class MatrixSlots {
  private readonly used = new Map<string, number>();

  constructor(state: RunState) {
    for (const s of state.stages.values()) if (s.plan.maxParallel !== undefined && holdsSlot(s)) this.add(s, 1);
  }

  /** Whether a pending instance may be queued for its first attempt now. */
  mayStart(s: StageState): boolean {
    const max = s.plan.maxParallel;
    return max === undefined || (this.used.get(s.plan.name) ?? 0) < max;
  }

  /** `s` (pending, holding no slot) is being queued. */
  started(s: StageState): void {
    if (s.plan.maxParallel !== undefined && !holdsSlot(s)) this.add(s, 1);
  }

  /** `s` is being concluded. */
  concluded(s: StageState): void {
    if (s.plan.maxParallel !== undefined && holdsSlot(s)) this.add(s, -1);
  }

  private add(s: StageState, n: number): void {
    this.used.set(s.plan.name, (this.used.get(s.plan.name) ?? 0) + n);
  }
}

/** For an instance of a `fail-fast` matrix stage: the sibling instance whose failure cancels it, if any. */
export function failedSibling(state: RunState, s: StageState, concluded: ReadonlyMap<string, StageConclusion>): string | null {
  if (s.plan.failFast !== true) return null;
  for (const other of state.stages.values()) {
    if (other.plan.name !== s.plan.name || other.plan.id === s.plan.id || other.plan.allowFailure) continue;
    const c = concluded.get(other.plan.id);
    if (c === "failure" || c === "timed_out") return other.plan.id;
  }
  return null;
}

/**
 * fail-fast for instances already sent to an agent: those whose sibling
 * failed, which the engine cancels (their attempts then end `cancelled`).
 */
export function failFastCancels(state: RunState): { stage: StageState; sibling: string }[] {
  if (state.conclusion !== null) return [];
  // Called on every dispatch pass: most runs have no running fail-fast instance.
  const running = (s: StageState) => s.plan.failFast === true && (s.phase === "leased" || s.phase === "running");
  if (![...state.stages.values()].some(running)) return [];
  const concluded = new Map<string, StageConclusion>();
  for (const s of state.stages.values()) if (s.conclusion) concluded.set(s.plan.id, s.conclusion);
  const out: { stage: StageState; sibling: string }[] = [];
  for (const s of state.stages.values()) {
    if (!running(s)) continue;
    const sibling = failedSibling(state, s, concluded);
    if (sibling !== null) out.push({ stage: s, sibling });
  }
  return out;
}
