/**
 * `hodei run [PATH]`: the pipeline of a local checkout through the real
 * engine: embedded store, gRPC, local agent processes (SPEC 2).
 */
import { randomUUID } from "node:crypto";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { describeCheckout } from "../../git/local-checkout.js";
import { planPipeline } from "../../pipeline-parser/index.js";
import type { TriggerContext, TriggerEvent } from "../../pipeline-parser/types.js";
import { dockerEngineProblem } from "../../providers/docker.js";
import { loadProviderSettings } from "../../providers/provider-settings.js";
import { ControlPlane } from "../../server/control-plane.js";
import { removeSnapshot, snapshotCheckout } from "../../server/source-snapshot.js";
import { MEMORY_DATA_DIR } from "../../store/open.js";
import { ProgressPrinter } from "../progress.js";
import { UsageError } from "../usage-error.js";

export interface RunCommandOptions {
  path: string;
  event?: string;
  branch?: string;
  agents?: string;
  dataDir: string;
  databaseUrl?: string;
  stdout: NodeJS.WriteStream | NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  color?: boolean;
  /** Aborting cancels the run (Ctrl-C). */
  signal?: AbortSignal;
}

const EVENTS: readonly TriggerEvent[] = ["push", "pull_request", "manual", "schedule"];

export async function runCommand(options: RunCommandOptions): Promise<number> {
  const checkout = path.resolve(options.path);
  const event = (options.event ?? "push") as TriggerEvent;
  if (!EVENTS.includes(event)) throw new UsageError(`--event must be one of ${EVENTS.join(", ")}`);
  const agents = options.agents === undefined ? defaultAgents() : Number(options.agents);
  if (!Number.isInteger(agents) || agents < 1 || agents > 64) throw new UsageError("--agents must be an integer from 1 to 64");

  const info = await describeCheckout(checkout);
  const branch = options.branch ?? info.branch ?? "main";
  const ctx: TriggerContext = {
    event,
    branch,
    tag: null,
    sha: info.sha ?? "0".repeat(40),
    changedFiles: null,
    repo: info.repo,
    pullRequest: event === "pull_request" ? { number: 0, baseBranch: branch } : null,
  };
  const planned = await planPipeline(checkout, ctx);
  if (!planned.ok) {
    for (const e of planned.errors) options.stderr.write(`${e.toString()}\n`);
    return 1;
  }
  const plan = planned.plan;
  if (!plan.triggered) {
    options.stdout.write(`pipeline ${plan.name} is not triggered by ${event} on ${branch}: nothing to run\n`);
    return 0;
  }
  // Docker stages run in containers when a Docker engine answers; kubernetes needs `hodei server`.
  const foreign = plan.stages.filter((s) => !s.skip && s.provider !== "local");
  const dockerProblem = foreign.some((s) => s.provider === "docker") ? await dockerEngineProblem() : null;
  const refused = foreign.filter((s) => s.provider !== "docker" || dockerProblem !== null);
  if (refused.length > 0) {
    const names = refused.map((s) => `${s.id} (${s.provider})`).join(", ");
    const why = dockerProblem ? `${dockerProblem}; ` : "";
    options.stderr.write(`hodei run: ${why}only the local and docker providers are available here; these stages cannot run: ${names}\n`);
    return 1;
  }

  const log = (m: string) => options.stderr.write(`${m}\n`);
  const localAgents = Math.min(agents, Math.max(1, plan.stages.length));
  const control = await ControlPlane.start({
    dataDir: options.dataDir,
    databaseUrl: options.databaseUrl,
    localAgents,
    unfinishedRuns: "cancel",
    log,
    onAgentOutput: (_i, text) => options.stderr.write(text),
    ...(foreign.length > 0 ? { provisioning: { providers: ["docker"], settings: loadProviderSettings() } } : {}),
  });
  const snapshotRoot = options.dataDir === MEMORY_DATA_DIR ? tmpdir() : path.resolve(options.dataDir);
  const source = path.join(snapshotRoot, "sources", randomUUID());
  try {
    await snapshotCheckout(checkout, source);
    // Stages that may run in parallel do, from the start: give the local agents
    // (started with the server) a moment to connect before the run begins.
    await agentsConnected(control, localAgents, AGENTS_WAIT_MS);
    const printer = new ProgressPrinter(
      { out: options.stdout, color: options.color ?? false },
      plan.stages.map((s) => s.id),
    );
    let runId: string | null = null;
    const unsubscribe = control.engine.subscribe({
      onEvents: (state, events) => state.id === runId && printer.onEvents(state, events),
      onLogs: (ref, chunks) => ref.runId === runId && printer.onLogs(ref, chunks),
    });
    runId = await control.engine.startRun({
      pipeline: plan.name,
      source: { kind: "directory", path: source },
      repo: `${ctx.repo.owner}/${ctx.repo.name}`,
      sha: ctx.sha,
      ref: `refs/heads/${branch}`,
      event,
      stages: plan.stages,
    });
    const id = runId;
    options.signal?.addEventListener("abort", () => void control.engine.cancelRun(id, "interrupted"), { once: true });
    const final = await control.engine.waitForRun(runId);
    unsubscribe();
    printer.summary(final);
    return final.conclusion === "success" ? 0 : 1;
  } finally {
    await control.stop();
    await removeSnapshot(source);
  }
}

function defaultAgents(): number {
  return Math.max(2, Math.min(4, availableParallelism()));
}

/** How long `hodei run` waits for its local agents before starting the run anyway. */
const AGENTS_WAIT_MS = 15_000;

async function agentsConnected(control: ControlPlane, agents: number, waitMs: number): Promise<void> {
  const until = Date.now() + waitMs;
  while (control.engine.connectedAgents < agents && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}
