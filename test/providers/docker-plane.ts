/** A control plane with the docker provider enabled, for the provider tests. */
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { PlannedStage } from "../../src/pipeline-parser/types.js";
import type { RunEvent } from "../../src/saga/events.js";
import { loadProviderSettings, type ProviderSettings } from "../../src/providers/provider-settings.js";
import { ControlPlane } from "../../src/server/control-plane.js";

export interface PlaneOptions {
  dataDir?: string;
  grpcPort?: number;
  nodeId?: string;
  localAgents?: number;
  providers?: string[];
  settings?: Partial<ProviderSettings>;
  log?: string[];
  /** Default 3 s. */
  leaseMs?: number;
}

export async function startPlane(options: PlaneOptions = {}): Promise<ControlPlane> {
  const defaults = loadProviderSettings({ HODEI_DOCKER_PULL: "never", HODEI_PROVISION_TIMEOUT: "60s" });
  return ControlPlane.start({
    dataDir: options.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), "hodei-docker-data-"))),
    grpcPort: options.grpcPort,
    nodeId: options.nodeId,
    localAgents: options.localAgents ?? 0,
    leaseMs: options.leaseMs ?? 3000,
    log: (m) => options.log?.push(m),
    provisioning: { providers: options.providers ?? ["docker"], settings: { ...defaults, ...options.settings } },
  });
}

export async function sourceDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hodei-src-"));
  await writeFile(path.join(dir, "hello.txt"), "hello from the checkout\n");
  return dir;
}

/** Starts a run and records its events. */
export async function startRun(c: ControlPlane, stages: PlannedStage[]): Promise<{ id: string; events: RunEvent[] }> {
  const events: RunEvent[] = [];
  let id = "";
  const early: { runId: string; events: readonly RunEvent[] }[] = [];
  c.engine.subscribe({
    onEvents: (state, evs) => (id ? state.id === id && events.push(...evs) : early.push({ runId: state.id, events: evs })),
  });
  id = await c.engine.startRun({
    pipeline: "t",
    source: { kind: "directory", path: await sourceDir() },
    repo: "acme/widgets",
    sha: "a".repeat(40),
    ref: "refs/heads/main",
    event: "manual",
    stages,
  });
  for (const e of early) if (e.runId === id) events.unshift(...e.events);
  return { id, events };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
