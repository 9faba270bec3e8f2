/**
 * What callers of the engine's advance want appended, as pure functions of a
 * run's current state (null: nothing to do, the attempt is not current). The
 * engine recomputes them after a concurrent append, and a group commit
 * combines several into one.
 */
import type { AttemptOutcome, RunEventBody } from "../saga/events.js";
import { applyPending, type RunState, type StageState } from "../saga/run-state.js";
import type { AttemptLogs, AttemptRef } from "./ports.js";

/** `at`: the time the events will be stored with (the append's, from the engine's clock). */
export type Incoming = (s: RunState, at: string) => RunEventBody[] | null;

/**
 * What a group commit gathers: an incoming and, for an agent's result that
 * came with the attempt's last output, those log chunks, stored in the same
 * append if the result is accepted and not at all otherwise.
 */
export interface Submission {
  incoming: Incoming | null;
  logs?: ResultLogs;
}

/** An attempt's last output, to be stored only if its result is `accepted()`. */
export interface ResultLogs {
  logs: AttemptLogs;
  accepted(): boolean;
}

/**
 * The incomings of one group commit as one: each computed from the state
 * after the ones before it, in submission order; null when none has anything.
 */
export function combine(incomings: readonly (Incoming | null)[]): Incoming | null {
  const given = incomings.filter((i): i is Incoming => i !== null);
  if (given.length <= 1) return given[0] ?? null;
  return (state, at) => {
    let working = state;
    let out: RunEventBody[] | null = null;
    for (const incoming of given) {
      const events = incoming(working, at);
      if (events === null) continue;
      out = [...(out ?? []), ...events];
      working = applyPending(working, events, at);
    }
    return out;
  };
}

export function stageAttempt(ref: AttemptRef): { stageId: string; attempt: number } {
  return { stageId: ref.stageId, attempt: ref.attempt };
}

/** A cancellation, unless the run has completed or one was asked for already. */
export function cancelRequest(reason: string): Incoming {
  return (s) => (s.conclusion || s.cancelRequested ? null : [{ type: "run.cancel_requested", data: { reason } }]);
}

/** Approval of the run's head (SPEC 6), only while the run waits for it; `approved()` says whether it did. */
export function approvalOf(approval: { by: string; sha: string }): { incoming: Incoming; approved(): boolean } {
  let approved = false;
  const incoming: Incoming = (s) => {
    approved = s.conclusion === null && s.approvedBy === null && s.meta.sha === approval.sha && [...s.stages.values()].some((st) => st.needsApproval);
    return approved ? [{ type: "run.approved", data: approval }] : null;
  };
  return { incoming, approved: () => approved };
}

/** An agent's report on an attempt: `events` of its stage, only while the attempt is current and the agent's. */
export function agentReport(
  agentId: string,
  ref: AttemptRef,
  events: (s: StageState) => RunEventBody[] | null,
): { incoming: Incoming; accepted(): boolean } {
  let accepted = false;
  const incoming: Incoming = (state) => {
    // Computed again after a concurrent append: only the last computation counts.
    accepted = false;
    const s = state.stages.get(ref.stageId);
    if (!s || s.attempt !== ref.attempt || s.agentId !== agentId) return null;
    const out = events(s);
    accepted = out !== null;
    return out;
  };
  return { incoming, accepted: () => accepted };
}

/** An agent's start report: the attempt's `started`, once. */
export function startReport(ref: AttemptRef, agentId: string): (s: StageState) => RunEventBody[] | null {
  return (s) => (s.phase === "leased" ? [{ type: "attempt.started", data: { ...ref, agentId } }] : s.phase === "running" ? [] : null);
}

/**
 * An agent's result. It implies the start (protocol 3: an agent whose stage
 * ends within moments reports only the result), except a cancellation, which
 * may have come before the command ever ran.
 */
export function resultReport(
  ref: AttemptRef,
  agentId: string,
  result: { outcome: AttemptOutcome; exitCode: number | null; reason: string | null },
): (s: StageState) => RunEventBody[] | null {
  return (s) => {
    const finished: RunEventBody = { type: "attempt.finished", data: { ...stageAttempt(ref), ...result } };
    if (s.phase === "running") return [finished];
    if (s.phase !== "leased") return null;
    return result.outcome === "cancelled" ? [finished] : [{ type: "attempt.started", data: { ...ref, agentId } }, finished];
  };
}

/**
 * A provisioner gave an attempt up: it ends lost with `reason`; one no agent
 * took yet is first leased to the provisioner, so the history says who.
 */
export function provisioningLoss(ref: AttemptRef, provider: string, reason: string): { incoming: Incoming; ended(): boolean } {
  let ended = false;
  const incoming: Incoming = (state) => {
    ended = false;
    const s = state.stages.get(ref.stageId);
    if (!s || s.attempt !== ref.attempt) return null;
    const finished: RunEventBody = { type: "attempt.finished", data: { ...stageAttempt(ref), outcome: "lost", exitCode: null, reason } };
    if (s.phase === "queued") {
      ended = true;
      return [{ type: "attempt.leased", data: { ...stageAttempt(ref), agentId: `provisioner:${provider}` } }, finished];
    }
    if (s.phase !== "leased" && s.phase !== "running") return null;
    ended = true;
    return [finished];
  };
  return { incoming, ended: () => ended };
}

/** A lease lapsed: its attempt ends lost; one only reserved (still queued) is dispatched again. */
export function leaseExpiry(ref: AttemptRef): Incoming {
  return (state) => {
    const s = state.stages.get(ref.stageId);
    if (!s || s.attempt !== ref.attempt) return null;
    if (s.phase === "queued") return [];
    if (s.phase !== "leased" && s.phase !== "running") return null;
    return [{ type: "attempt.finished", data: { ...stageAttempt(ref), outcome: "lost", exitCode: null, reason: "agent lost" } }];
  };
}
