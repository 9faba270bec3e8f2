/**
 * Engine figures (issue: durable execution): per-stage scheduling overhead
 * on a chain of 50 trivial stages, and throughput of 500 independent
 * trivial stages with 4 local agents, each against a shell doing the same,
 * and the server's and agents' peak RSS during the latter (issue #9, item 5).
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { PlannedStage } from "../src/pipeline-parser/types.js";
import type { RunPlannedData } from "../src/saga/events.js";
import { ControlPlane } from "../src/server/control-plane.js";
import { stage } from "../test/saga/plan-stages.js";
import { timed, type Benchmark, type Samples } from "./harness.js";
import { peakRssMb, resetPeakRss, ServerProcess } from "./control-plane-process.js";
import { freshStore, type BenchStore } from "./stores.js";

/** The bench's run: `stages` on the files in `source`. */
function benchRun(stages: PlannedStage[], source: string): RunPlannedData {
  return { pipeline: "bench", source: { kind: "directory", path: source }, repo: "bench/bench", sha: "b".repeat(40), ref: null, event: "manual", stages };
}

async function runOnce(control: ControlPlane, stages: PlannedStage[], source: string): Promise<number> {
  const { ms, value } = await timed(async () => control.engine.waitForRun(await control.engine.startRun(benchRun(stages, source))));
  if (value.conclusion !== "success") throw new Error(`bench run ended ${value.conclusion}`);
  return ms;
}

async function withControlPlane<T>(kind: BenchStore, agents: number, fn: (c: ControlPlane, source: string) => Promise<T>): Promise<T> {
  const store = await freshStore(kind);
  const source = await mkdtemp(path.join(os.tmpdir(), "hodei-bench-src-"));
  await writeFile(path.join(source, "README"), "bench\n");
  const control = await ControlPlane.start({ databaseUrl: store.databaseUrl, dataDir: store.dataDir, localAgents: agents });
  try {
    // Let the agents connect before the clock starts.
    while (control.engine.connectedAgents < agents) await new Promise((r) => setTimeout(r, 20));
    return await fn(control, source);
  } finally {
    await control.stop();
    await store.dispose();
  }
}

/** The baseline: each command run the way an agent runs it (`sh -e -c`), from one shell script. */
function shellScript(commands: number, parallel: number): number {
  const start = performance.now();
  execFileSync("sh", ["-c", `seq ${commands} | xargs -P ${parallel} -I{} sh -e -c true`]);
  return performance.now() - start;
}

export function chainBenchmark(kind: BenchStore): Benchmark {
  const n = 50;
  return {
    id: `engine.chain50.${kind}`,
    title: `Per-stage overhead, chain of 50 (${kind})`,
    measures: `(wall time of a run of ${n} stages \`true\`, each needing the previous, from start to completion, minus the baseline) / ${n}, with one local agent on ${kind}.`,
    baselineDescription: `the same ${n} commands, each as \`sh -e -c true\`, one after another from a shell script (per command).`,
    unit: "ms/stage",
    target: { direction: "below", value: 10 },
    repetitions: 5,
    limits:
      "Per stage: one append (the attempt's `started` and `finished` with its output, its `stage.completed`, the next stage's `stage.queued` and `attempt.leased`; one call of hodei_append_events, whose plan is kept), the assignment over gRPC, one message back (protocol 3: a stage that ends within 10 ms reports only its result, which carries its output and implies its start), and the agent's attempt: a fresh workspace with a copy of the run's files (fetched once per run and agent), the command in a shell started ahead of need (`sh -s`, which reads the workspace, variables and command from its stdin), the result reported before the workspace is removed and the next shell started. What remains is the two gRPC trips, the append's round trip to the store (on PGlite, through the store process), the shell itself, and starting the next shell: Node's spawn blocks the agent's loop until the child has exec'd, a fork of the agent and an exec, which overlaps the server's turn-around only in part. That last cost depends on the machine: where starting a process takes ~1 ms (this baseline's 0.9–1.1 ms per command; runs of 2026-11-27 before 14:30) the chain cost 5.4–8.0 ms per stage; on a machine where it takes ~8 ms (the process start figure at the top; baseline 4–4.6 ms) 13–16 ms, of which ~7 ms is the agent blocked in spawn after each result (timed inside the agent).",
    async run(reps): Promise<Samples> {
      const stages = Array.from({ length: n }, (_, i) => stage(`s${i}`, { needs: i ? [`s${i - 1}`] : [] }));
      return withControlPlane(kind, 1, async (control, source) => {
        await runOnce(control, stages, source); // warm-up
        const values: number[] = [];
        const baseline: number[] = [];
        for (let i = 0; i < reps; i++) {
          const base = shellScript(n, 1);
          baseline.push(base / n);
          values.push((await runOnce(control, stages, source)) / n - base / n);
        }
        return { values, baseline };
      });
    },
  };
}

interface ThroughputSamples {
  stagesPerSecond: number[];
  shellPerSecond: number[];
  serverPeakMb: number[];
  agentPeakMb: number[];
  /** The embedded store's process (PGlite only). */
  storePeakMb: number[];
}

/**
 * The throughput run, with the server in a process of its own
 * (bench/server-process.ts) so its memory and its four agents' can be read
 * from /proc while the stages run.
 */
async function measureThroughput(kind: BenchStore, n: number, reps: number): Promise<ThroughputSamples> {
  const agents = 4;
  const stages = Array.from({ length: n }, (_, i) => stage(`s${i}`));
  const store = await freshStore(kind);
  const source = await mkdtemp(path.join(os.tmpdir(), "hodei-bench-src-"));
  await writeFile(path.join(source, "README"), "bench\n");
  // As in memory.bench.ts: the first start (initdb on PGlite, with its garbage) is not the one measured.
  await (await ServerProcess.start({ databaseUrl: store.databaseUrl, dataDir: store.dataDir, localAgents: 0 })).stop();
  const server = await ServerProcess.start({ databaseUrl: store.databaseUrl, dataDir: store.dataDir, localAgents: agents });
  try {
    const agentPids = await server.agentPids();
    if (agentPids.length !== agents) throw new Error(`found ${agentPids.length} of the server's ${agents} local agent processes`);
    const storePid = await server.storePid();
    if (kind === "pglite" && storePid === undefined) throw new Error("the server's store process was not found");
    const run = benchRun(stages, source);
    const out: ThroughputSamples = { stagesPerSecond: [], shellPerSecond: [], serverPeakMb: [], agentPeakMb: [], storePeakMb: [] };
    // Warm-up, as in the chain: the first run after a start is the one where
    // V8 (and on PGlite the WASM Postgres) compiles its hot code; steady state is what is measured.
    const warm = await server.run(run);
    if (warm.conclusion !== "success") throw new Error(`bench warm-up run ended ${warm.conclusion}`);
    for (let i = 0; i < reps; i++) {
      out.shellPerSecond.push(n / (shellScript(n, agents) / 1000));
      for (const pid of [server.pid, ...agentPids, ...(storePid === undefined ? [] : [storePid])]) await resetPeakRss(pid);
      const result = await server.run(run);
      if (result.conclusion !== "success") throw new Error(`bench run ended ${result.conclusion}`);
      out.stagesPerSecond.push(n / (result.ms / 1000));
      out.serverPeakMb.push(await peakRssMb(server.pid));
      out.agentPeakMb.push(Math.max(...(await Promise.all(agentPids.map((pid) => peakRssMb(pid))))));
      if (storePid !== undefined) out.storePeakMb.push(await peakRssMb(storePid));
    }
    return out;
  } finally {
    await server.stop();
    await store.dispose();
    await rm(source, { recursive: true, force: true });
  }
}

const RSS_SERVER_LIMITS =
  "On PGlite the embedded Postgres runs in a store process the server starts and owns (src/store/sidecar), so this is the server alone, as on Postgres; the store process's peak is its own figure (engine.throughput500.rss-store.pglite). With PGlite in the server process this run peaked at ~400 MB.";
const RSS_STORE_LIMITS =
  "No target: the 150 MB target is the server's. The store process is Node (~45 MB) plus PGlite's WASM Postgres, whose memory grows and never shrinks until the process restarts. It runs with shared_buffers=16MB instead of PGlite's 128MB: PGlite touches all of its shared buffers, so in a bare Node process it idles at ~160 MB instead of ~280 MB (32MB: ~180, 64MB: ~220; after 20,000 inserts ~210 MB instead of ~365 MB), and the pages it does not cache are read from the OS page cache.";

export function throughputBenchmarks(kind: BenchStore): Benchmark[] {
  const n = 500;
  const reps = 3;
  let session: Promise<ThroughputSamples> | null = null;
  const samples = () => (session ??= measureThroughput(kind, n, reps));
  const how = `${n} independent stages \`true\` in one run, with 4 local agents on ${kind}, the server in a process of its own (bench/control-plane-child.mjs on the compiled code, restarted once after the store's first start), after one unmeasured run of the same stages (warm-up).`;
  return [
    {
      id: `engine.throughput500.${kind}`,
      title: `Throughput, 500 independent stages, 4 agents (${kind})`,
      measures: `${how} Stages per second from start to completion.`,
      baselineDescription: `the same ${n} commands as \`sh -e -c true\`, 4 at a time (xargs -P 4).`,
      unit: "stages/s",
      target: { direction: "above", value: 200 },
      repetitions: reps,
      limits:
        "CPU-bound: both cores are over 90% busy during the run. Per stage: one append for the lease and one for the result (fewer when results arrive together), each a call of hodei_append_events (migration 0008: PL/pgSQL keeps the plan), the result carrying the stage's output and start (protocol 3); in the agent, the gRPC messages, a fresh workspace, and the command in a `sh -s` started ahead of need that reads its script from stdin (one process start per stage). Process starts bound it: where one takes ~1 ms (the shell baseline at ~1,800 commands/s, runs of 2026-11-27 before 14:30) the run took ~9 ms of CPU per stage over all processes (server ~1.8, four agents ~4, store ~1.6–2.1, the shell) and ran at 150–218 stages/s; on a machine where a process start takes ~8 ms (the figure at the top; the baseline at ~210 commands/s) ~30 ms of CPU per stage (ad-hoc /proc readings: the agents' Node processes ~12–15 ms, of which a fork of Node costs ~5 ms of the forking process's CPU whatever its heap size, server ~3.5, store ~4–5, the rest the shells and the kernel), and 47–78 stages/s. On that machine an agent build that reports every stage a success without starting a process (a local experiment, not committed; workspaces, gRPC, server and store unchanged) ran 213–250 stages/s at 7–8 ms of CPU per stage, and the agents' own CPU per stage fell from ~19 to ~3.4 ms: a fork of the agent, a multi-threaded Node process, costs it far more under load than the ~5 ms it takes alone. Starting shells from a small single-threaded process instead is the next step; it has to create each stage's pipes and session itself, which a plain `sh` cannot (dash addresses file descriptors 0–9 only, and a new session takes an exec of `setsid`). Tried and reverted: a batched log writer (it delayed each result behind its log acknowledgement), the output inside the append while the append was a plain statement (slower on PGlite), removing small workspaces entry by entry instead of with rmSync (no difference).",
      run: async () => {
        const s = await samples();
        return { values: s.stagesPerSecond, baseline: s.shellPerSecond };
      },
    },
    {
      id: `engine.throughput500.rss-server.${kind}`,
      title: `Server peak RSS, 500 stages (${kind})`,
      measures: `${how} The server process's peak RSS (VmHWM, reset when the run starts) during the run${kind === "pglite" ? "; the embedded Postgres is not in it, it runs in the store process (engine.throughput500.rss-store.pglite)" : ""}.`,
      baselineDescription: null,
      unit: "MB",
      target: { direction: "below", value: 150 },
      repetitions: reps,
      limits: RSS_SERVER_LIMITS,
      run: async () => ({ values: (await samples()).serverPeakMb, baseline: [] }),
    },
    ...(kind === "pglite"
      ? [
          {
            id: `engine.throughput500.rss-store.${kind}`,
            title: `Store process peak RSS, 500 stages (${kind})`,
            measures: `${how} The peak RSS (VmHWM, reset when the run starts) of the embedded store's process (PGlite, src/store/sidecar/store-process.ts), which the server starts and owns, during the run.`,
            baselineDescription: null,
            unit: "MB",
            target: null,
            repetitions: reps,
            limits: RSS_STORE_LIMITS,
            run: async () => ({ values: (await samples()).storePeakMb, baseline: [] }),
          } satisfies Benchmark,
        ]
      : []),
    {
      id: `engine.throughput500.rss-agent.${kind}`,
      title: `Agent peak RSS, 500 stages (${kind})`,
      measures: `${how} The largest peak RSS (VmHWM, reset when the run starts) of the four agent processes during the run.`,
      baselineDescription: null,
      unit: "MB",
      target: { direction: "below", value: 150 },
      repetitions: reps,
      run: async () => ({ values: (await samples()).agentPeakMb, baseline: [] }),
    },
  ];
}
