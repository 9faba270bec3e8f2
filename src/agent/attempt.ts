/**
 * One stage attempt on the agent, start to end: a fresh workspace with the
 * run's files (from the server, once per run: RunFilesCache) and the needed
 * artifacts from the server, the commands with the
 * stage's secrets, then (after success) the stage's own artifacts packed and
 * uploaded. Every failure on the way becomes the attempt's result with a
 * reason; none escapes.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type * as grpc from "@grpc/grpc-js";
import { status as grpcStatus } from "@grpc/grpc-js";
import type { AgentServiceClient, AssignmentMessage } from "../grpc/protocol.js";
import { ArtifactPatternError, expandArtifacts } from "./artifacts.js";
import { runStageProcess, type OutputGate, type StageProcessOptions, type StageResult } from "./stage-process.js";
import { fetchArtifact, fetchSource, uploadArtifact } from "./transfer.js";
import type { RunFilesCache } from "./run-files-cache.js";
import type { WarmShells } from "./warm-shell.js";
import { prepareWorkspace } from "./workspace.js";

export interface AttemptContext {
  client: () => AgentServiceClient;
  metadata: () => grpc.Metadata;
  output: (text: string) => void;
  signal: AbortSignal;
  gate: OutputGate;
  /** The run's files, fetched once per run on this agent; null: fetched into each workspace. */
  files: RunFilesCache | null;
  /** Shells started ahead of need, for the stage's commands. */
  shells?: WarmShells;
  /** The agent's dead man's switch for the stage's process groups. */
  groups?: StageProcessOptions["groups"];
  /** Work to do once the result is reported (removing the workspace): off the stage's critical path. */
  afterResult: (task: () => Promise<void>) => void;
}

/**
 * How long a fetch keeps being retried on transient errors: longer than a
 * server restart (PGlite's start took up to 27 s on a loaded machine), so
 * a restart between the lease and the fetch costs the stage nothing.
 */
const FETCH_PATIENCE_MS = 60_000;
const TRANSIENT = new Set<number>([
  grpcStatus.UNAVAILABLE,
  grpcStatus.CANCELLED,
  grpcStatus.DEADLINE_EXCEEDED,
  grpcStatus.INTERNAL,
  grpcStatus.UNKNOWN,
  // Right after a restart the server may not have re-adopted the run yet.
  grpcStatus.PERMISSION_DENIED,
]);

function transient(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" && TRANSIENT.has(code);
}

export async function runAttempt(assignment: AssignmentMessage, ctx: AttemptContext): Promise<StageResult> {
  const failure = (reason: string): StageResult => {
    ctx.output(`hodei: ${reason}\n`);
    return { outcome: "failure", exitCode: null, reason };
  };
  if (assignment.setupError) return failure(assignment.setupError);
  const ref = assignment.ref;
  let workspace;
  const since = performance.now();
  for (let tries = 1; ; tries++) {
    try {
      workspace = await prepareWorkspace(assignment.workdir, async (root) => {
        const fetch = (dir: string) => fetchSource(ctx.client(), ctx.metadata(), ref, dir);
        await (ctx.files ? ctx.files.fill(ref.runId, root, fetch) : fetch(root));
        for (const from of assignment.artifactsFrom) await fetchArtifact(ctx.client(), ctx.metadata(), ref, from, root);
      });
      break;
    } catch (error) {
      // A server that restarts mid-fetch (or has not yet taken its runs back)
      // is not the stage's fault: fetch again on the next connection.
      if (performance.now() - since < FETCH_PATIENCE_MS && transient(error) && !ctx.signal.aborted) {
        await sleep(Math.min(3_000, 200 * 2 ** (tries - 1)), undefined, { signal: ctx.signal }).catch(() => undefined);
        if (!ctx.signal.aborted) continue;
      }
      return failure(`could not prepare the workspace: ${(error as Error).message}`);
    }
  }
  try {
    const result = await runStageProcess({
      commands: assignment.commands,
      cwd: workspace.cwd,
      env: assignment.env,
      secrets: assignment.secrets,
      timeoutSeconds: assignment.timeoutSeconds,
      onOutput: ctx.output,
      signal: ctx.signal,
      gate: ctx.gate,
      shells: ctx.shells,
      groups: ctx.groups,
    });
    if (result.outcome !== "success" || assignment.artifactPatterns.length === 0) return result;
    try {
      const paths = await expandArtifacts(workspace.root, assignment.artifactPatterns);
      const bytes = await uploadArtifact(ctx.client(), ctx.metadata(), ref, workspace.root, paths);
      ctx.output(`hodei: artifacts uploaded (${paths.length} path(s), ${bytes} bytes)\n`);
      return result;
    } catch (error) {
      if (error instanceof ArtifactPatternError) return failure(error.message);
      return failure(`could not upload the artifacts: ${(error as Error).message}`);
    }
  } finally {
    ctx.afterResult(() => workspace.dispose());
  }
}
