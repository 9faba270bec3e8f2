/**
 * The server restarts while attempts run in containers or pods: a real
 * `hodei server` with the docker or the kubernetes provider is SIGKILLed
 * while a stage sleeps inside its container or pod, and started again on the
 * same store. The run must complete with the right conclusion; the attempt
 * either carried on (its container or pod re-adopted, its agent reconnected)
 * or was recorded lost and retried; no attempt ran twice unless recorded
 * lost; and nothing with the run's hodei labels is left afterwards.
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { ControlPlane } from "../../src/server/control-plane.js";
import { testStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { freePort, readHistories, seedRuns, startServer, type ServerProcess, type StoreLocation } from "../durability/crash-harness.js";
import { dockerUnavailable, ensureTestImage, hodeiContainers, TEST_IMAGE } from "./docker-engine.js";
import { startPlane, startRun, waitFor } from "./docker-plane.js";
import { KubeStandIn } from "./kube-standin.js";
import { StageMarks } from "./stage-marks.js";

vi.setConfig({ testTimeout: 180_000 });
const docker = new Docker();
const marks = new StageMarks();
const servers: ServerProcess[] = [];
const planes: ControlPlane[] = [];
const runIds: string[] = [];
let api: KubeStandIn;
let kubeconfig = "";

interface Worker {
  id: string;
  running: boolean;
}

/** What each provider runs an attempt in, listed by the run's labels, and how to kill it from outside. */
interface ProviderUnderTest {
  name: "docker" | "kubernetes";
  env(): NodeJS.ProcessEnv;
  workers(runId: string): Promise<Worker[]>;
  kill(worker: Worker): Promise<void>;
}

const providers: ProviderUnderTest[] = [
  {
    name: "docker",
    env: () => ({ HODEI_PROVIDERS: "docker" }),
    workers: async (runId) => (await hodeiContainers(docker, runId)).map((c) => ({ id: c.Id, running: c.State === "running" })),
    kill: async (w) => void (await docker.getContainer(w.id).kill()),
  },
  {
    name: "kubernetes",
    env: () => ({ HODEI_PROVIDERS: "kubernetes", KUBECONFIG: kubeconfig, HODEI_KUBERNETES_NAMESPACE: "ci" }),
    workers: (runId) =>
      Promise.resolve(
        [...api.pods.values()]
        .filter((r) => r.pod.metadata?.annotations?.["hodei.run"] === runId && r.pod.metadata.labels?.["hodei.managed"] === "true")
          .map((r) => ({ id: r.pod.metadata!.name!, running: r.pod.status?.phase === "Running" })),
      ),
    // The worker dies: the stand-in's kubelet sees its container exit and fails the Pod.
    kill: async (w) => {
      const container = api.pods.get(w.id)?.container;
      if (!container) throw new Error(`pod ${w.id} has no container`);
      await docker.getContainer(container).kill();
    },
  },
];

function serverEnv(provider: ProviderUnderTest): NodeJS.ProcessEnv {
  return {
    ...provider.env(),
    HODEI_LOCAL_AGENTS: "0",
    HODEI_DOCKER_PULL: "never",
    HODEI_PROVISION_TIMEOUT: "60s",
    // Long enough for the agent's reconnect backoff (at most 5 s) after the restart, on a loaded machine.
    HODEI_LEASE_MS: "15000",
  };
}

function start(where: StoreLocation, ports: { http: number; grpc: number }, provider: ProviderUnderTest): ServerProcess {
  const server = startServer(where, ports, serverEnv(provider));
  servers.push(server);
  return server;
}

async function runStatus(httpPort: number, id: string): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/api/runs/${id}`);
    return res.ok ? ((await res.json()) as { status: string }).status : null;
  } catch {
    return null;
  }
}

async function sigkill(server: ServerProcess): Promise<void> {
  server.child.kill("SIGKILL");
  await server.exited;
}

async function sigterm(server: ServerProcess): Promise<void> {
  server.child.kill("SIGTERM");
  await server.exited;
}

/** A store with one run whose one stage on `provider` marks its start, waits for the test to open its gate, and marks its end. */
async function seedSleeper(provider: ProviderUnderTest): Promise<{ where: StoreLocation; id: string }> {
  const where = await testStore("pglite").create();
  const [id] = await seedRuns(where, [
    { stages: [stage("sleeper", { provider: provider.name, image: TEST_IMAGE, retries: 1, timeoutSeconds: 300, commands: marks.gated() })] },
  ]);
  runIds.push(id!);
  return { where, id: id! };
}

/**
 * The invariants after the fact, from the stored history and the marks:
 * completed with success; every attempt but the last recorded lost; each
 * attempt started at most once; the last one started and ended.
 */
async function checkHistory(where: StoreLocation, id: string) {
  const { events, state } = await readHistories(where, [id]);
  const run = state.get(id)!;
  const history = events.get(id)!;
  const s = run.stages.get("sleeper")!;
  expect(run.conclusion, JSON.stringify(history.filter((e) => e.type === "attempt.finished"))).toBe("success");
  expect(history.map((e) => e.seq)).toEqual(history.map((_, i) => i + 1));
  const finished = history.filter((e) => e.type === "attempt.finished");
  for (const f of finished.slice(0, -1)) expect(f.data.outcome, JSON.stringify(f.data)).toBe("lost");
  const starts = marks.of(id, "start").map((m) => m.attempt);
  expect(new Set(starts).size, `attempts started: ${starts.join(", ")}`).toBe(starts.length);
  expect(marks.of(id, "end").map((m) => m.attempt)).toContain(s.attempt);
  for (const a of starts) expect(a).toBeLessThanOrEqual(s.attempt);
  return { attempt: s.attempt, finished };
}

/**
 * Seeds the gated run and starts a server; once attempt 1 runs in its worker,
 * SIGKILLs the server, calls `whileDown` with the workers it left, and starts
 * a server again on the same store, whose start-up clean-up must say
 * `cleanUp`. Then lets the stage finish and waits until the run completed and
 * its workers are gone, while that server still runs (released when the
 * attempt ended, not by a graceful shutdown), and stops it.
 */
async function crashAndRestart(provider: ProviderUnderTest, cleanUp: string, whileDown: (workers: Worker[], runId: string) => Promise<void>): Promise<{ where: StoreLocation; id: string }> {
  const { where, id } = await seedSleeper(provider);
  const ports = { http: await freePort(), grpc: await freePort() };
  const first = start(where, ports, provider);
  await first.ready;
  await waitFor("attempt 1 to start in its worker", () => marks.of(id, "start").length > 0, 60_000);
  const before = await provider.workers(id);
  await sigkill(first);
  await whileDown(before, id);
  const second = start(where, ports, provider);
  await second.ready;
  expect(second.output()).toContain(`${provider.name} provider: ${cleanUp} left by an earlier process`);
  marks.openGate(id);
  await waitFor("the run to complete", async () => (await runStatus(ports.http, id)) === "completed", 90_000);
  await waitFor("the run's workers to go", async () => (await provider.workers(id)).length === 0, 20_000);
  await sigterm(second);
  return { where, id };
}

// The stand-in runs Pods as Docker containers, so both suites need the engine: skipped only outside CI when none answers.
describe.skipIf(dockerUnavailable !== null)(`server restart while attempts run${dockerUnavailable ? ` (skipped: ${dockerUnavailable})` : ""}`, () => {
  beforeAll(async () => {
    await ensureTestImage(docker);
    await marks.start();
    api = new KubeStandIn();
    await api.start();
    kubeconfig = path.join(await mkdtemp(path.join(os.tmpdir(), "hodei-kube-")), "config");
    await api.writeKubeconfig(kubeconfig);
    // For the control planes started in this process.
    process.env.KUBECONFIG = kubeconfig;
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await sigkill(s);
    for (const p of planes.splice(0)) await p.stop();
    // Only what this file's runs left: other tests share the engine.
    for (const id of runIds.splice(0)) {
      for (const c of await hodeiContainers(docker, id)) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
    }
  });
  afterAll(async () => {
    await api.stop();
    await marks.stop();
  });

  describe.each(providers)("$name provider", (provider) => {
    it("re-adopts a running attempt's worker after a SIGKILL; the attempt carries on or is retried, and nothing of the run is left", async () => {
      const { where, id } = await crashAndRestart(provider, "re-adopted 1, removed 0", async (before, runId) => {
        // The worker outlives the server that provisioned it.
        expect(before.map((w) => w.running)).toEqual([true]);
        expect((await provider.workers(runId)).map((w) => w.id)).toEqual(before.map((w) => w.id));
      });
      const { attempt, finished } = await checkHistory(where, id);
      if (attempt === 1) {
        // Carried on: the re-adopted worker's agent reconnected within the lease and finished the attempt.
        expect(finished.map((f) => f.data.outcome)).toEqual(["success"]);
      } else {
        // Or its lease lapsed first: recorded lost, then retried in a new worker.
        expect(finished.map((f) => f.data.outcome)).toEqual(["lost", "success"]);
      }
      const why = attempt === 1 ? "carried on" : `was recorded lost (${String(finished[0]?.data.reason)}) and retried`;
      console.info(`${provider.name}: after the restart attempt 1 ${why}`);
    });

    it("removes a worker that died while the server was down, and retries its attempt", async () => {
      const { where, id } = await crashAndRestart(provider, "re-adopted 0, removed 1", async ([victim], runId) => {
        await provider.kill(victim!);
        await waitFor("the worker to stop running", async () => (await provider.workers(runId)).every((w) => !w.running), 20_000);
      });
      const { attempt, finished } = await checkHistory(where, id);
      expect(attempt).toBe(2);
      expect(finished.map((f) => f.data.outcome)).toEqual(["lost", "success"]);
      expect(marks.of(id, "start").map((m) => m.attempt)).toEqual([1, 2]);
    });

    it("leaves alone the running workers of a control plane on another store that shares the engine", async () => {
      // Both on an embedded store, so both have the same node identity ("embedded"): only the store tells them apart.
      const settings = { kubernetes: { namespace: "ci" } };
      // A lease long enough that a machine loaded by B's start-up cannot make A's agent miss it.
      const a = await startPlane({ providers: [provider.name], settings, leaseMs: 20_000 });
      planes.push(a);
      const { id, events } = await startRun(a, [stage("sleeper", { provider: provider.name, image: TEST_IMAGE, timeoutSeconds: 300, commands: marks.gated() })]);
      runIds.push(id);
      await waitFor("attempt 1 to start in its worker", () => marks.of(id, "start").length > 0, 60_000);
      const log: string[] = [];
      // Its start-up clean-up runs before start() returns.
      planes.push(await startPlane({ providers: [provider.name], settings, log }));
      expect(log.filter((m) => m.includes("left by an earlier process"))).toEqual([]);
      const ended = () => JSON.stringify(events.filter((e) => e.type === "attempt.finished").map((e) => e.data));
      expect((await provider.workers(id)).map((w) => w.running), `attempts ended: ${ended()}`).toEqual([true]);
      marks.openGate(id);
      const final = await a.engine.waitForRun(id);
      expect(events.filter((e) => e.type === "attempt.finished").map((e) => e.type === "attempt.finished" && `${e.data.attempt}:${e.data.outcome}:${e.data.reason}`)).toEqual(["1:success:null"]);
      expect(final.conclusion).toBe("success");
      expect(marks.of(id, "end").map((m) => m.attempt)).toEqual([1]);
      await waitFor("the run's workers to go", async () => (await provider.workers(id)).length === 0, 20_000);
    });
  });
});
