/**
 * Recovery time (issue 9 item 6): 20 runs in flight on a `hodei server`
 * process (stages sleeping), the process and its agents SIGKILLed, a new one
 * started on the same store; the figure is from the new process's spawn to
 * the first attempt it leases (the `attempt.leased` event's own time).
 */
import { openDatabase } from "../src/store/open.js";
import { freePort, seedRuns } from "../test/durability/crash-harness.js";
import { stage } from "../test/saga/plan-stages.js";
import type { Benchmark, Samples } from "./harness.js";
import { startServerProcess } from "./server-process.js";
import { freshStore, type BenchStore } from "./stores.js";

const RUNS = 20;

async function serverEnv(store: { databaseUrl?: string; dataDir: string }): Promise<NodeJS.ProcessEnv> {
  return {
    DATABASE_URL: store.databaseUrl ?? "",
    HODEI_DATA_DIR: store.dataDir,
    HODEI_PORT: String(await freePort()),
    HODEI_GRPC_PORT: String(await freePort()),
    HODEI_LOCAL_AGENTS: "2",
    // Lease events are logged at debug: the bench waits for the first one.
    HODEI_LOG_LEVEL: "debug",
  };
}

/** The wall-clock time (ms) of the first lease recorded at or after `since`. */
async function firstLeaseSince(store: { databaseUrl?: string; dataDir: string }, since: number): Promise<number> {
  const db = await openDatabase(store);
  try {
    const { rows } = await db.query<{ at: Date | string | null }>("select min(at) as at from run_events where type = 'attempt.leased' and at >= $1", [new Date(since).toISOString()]);
    const at = rows[0]?.at;
    if (at === null || at === undefined) throw new Error("no attempt was leased after the restart");
    return new Date(at).getTime();
  } finally {
    await db.close();
  }
}

async function recoveryOnce(kind: BenchStore): Promise<{ recovery: number; cold: number }> {
  const store = await freshStore(kind);
  const empty = await freshStore(kind);
  try {
    await seedRuns(store, Array.from({ length: RUNS }, () => ({ stages: [stage("work", { commands: ["sleep 5"] })] })));
    const env = await serverEnv(store);
    const first = startServerProcess(env);
    try {
      await first.waitFor(/"msg":"attempt\.started"/);
    } finally {
      await first.kill();
    }
    const restartedAt = Date.now();
    const second = startServerProcess(env);
    try {
      await second.waitFor(/"msg":"attempt\.leased"/);
    } finally {
      await second.kill();
    }
    const recovery = (await firstLeaseSince(store, restartedAt)) - restartedAt;

    // The baseline: the same start on a store with nothing in flight, to "ready".
    const spawned = performance.now();
    const idle = startServerProcess(await serverEnv(empty));
    try {
      const ready = await idle.waitFor(/hodei server ready/);
      return { recovery, cold: ready - spawned };
    } finally {
      await idle.kill();
    }
  } finally {
    await store.dispose();
    await empty.dispose();
  }
}

export function recoveryBenchmark(kind: BenchStore): Benchmark {
  return {
    id: `recovery.${kind}`,
    title: `Recovery: restart to first resumed dispatch, ${RUNS} runs in flight (${kind})`,
    measures: `${RUNS} single-stage runs (\`sleep 5\`) in flight on a \`hodei server\` process with 2 local agents on ${kind}; the process and its agents are SIGKILLed once a stage has started, and a new process started on the same store: from its spawn to the first \`attempt.leased\` it records (the event's own time).`,
    baselineDescription: "the same `hodei server` start on a store with no runs, from spawn to `hodei server ready`.",
    unit: "ms",
    target: null,
    repetitions: 3,
    async run(reps): Promise<Samples> {
      const values: number[] = [];
      const baseline: number[] = [];
      for (let i = 0; i < reps; i++) {
        const r = await recoveryOnce(kind);
        values.push(r.recovery);
        baseline.push(r.cold);
      }
      return { values, baseline };
    },
  };
}

