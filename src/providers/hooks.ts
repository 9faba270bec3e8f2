/**
 * The ProvisionerHooks of a control plane, from the parts it has: the run
 * store (where an attempt stands), the engine (to end an attempt) and the
 * agent credential.
 */
import type { AttemptRef, LogChunk } from "../engine/ports.js";
import type { RunState } from "../saga/run-state.js";
import { SERVICE_LOG_SEQ, type AttemptStatus, type ProvisionerHooks } from "./provider.js";

export interface HookParts {
  /** host:port agents dial; read when an agent is provisioned (the gRPC port is known only after listening). */
  server: () => string;
  loadRun: (runId: string) => Promise<RunState | null>;
  provisioningFailed: (ref: AttemptRef, provider: string, reason: string) => Promise<unknown>;
  agentCredentials: (ref: AttemptRef) => Promise<Record<string, string>>;
  /** Stores log chunks of an attempt (services' output, appended after the agent's). */
  appendLogs?: (ref: AttemptRef, chunks: readonly LogChunk[]) => Promise<void>;
  log: (message: string) => void;
}

export function provisionerHooks(parts: HookParts): ProvisionerHooks {
  const append = parts.appendLogs;
  return {
    get server() {
      return parts.server();
    },
    agentCredentials: parts.agentCredentials,
    attemptStatus: async (ref) => attemptStatusIn(await parts.loadRun(ref.runId), ref),
    failed: (ref, provider, reason) => {
      parts.provisioningFailed(ref, provider, reason).catch((error: unknown) => parts.log(`ending ${ref.stageId}#${ref.attempt} failed: ${String(error)}`));
    },
    ...(append ? { serviceLogs: (ref: AttemptRef, text: string) => append(ref, [{ seq: SERVICE_LOG_SEQ, data: text }]) } : {}),
    log: parts.log,
  };
}

export function attemptStatusIn(run: RunState | null, ref: AttemptRef): AttemptStatus {
  const s = run?.conclusion === null ? run.stages.get(ref.stageId) : undefined;
  if (!s || s.attempt !== ref.attempt) return "over";
  if (s.phase === "queued") return "waiting";
  if (s.phase === "leased" || s.phase === "running") return "taken";
  return "over";
}
