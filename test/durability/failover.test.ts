/**
 * Fail-over (issue 16): two real `hodei server` processes on one Postgres,
 * each with its own data directory (own CA, own node id). Server A drives
 * every run; it is SIGKILLed while its local agents run stages. Those agents
 * keep running, dial server B (which A told them of, from the store's node
 * registry), and report there; B takes the runs over once A's ownership
 * lapsed. Every run must succeed, no stage be recorded lost, each stage run
 * exactly once with its attempts never overlapping (start and end times in
 * a marker file), and every stage's stored log be what it printed.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import type { PlannedStage } from "../../src/pipeline-parser/types.js";
import { openDatabase } from "../../src/store/open.js";
import { describePostgres, tempDir } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { freePort, prng, readHistories, seedRuns, startServer, type ServerProcess, waitForRunsCompleted } from "./crash-harness.js";

const LINES = 8;
const seed = Number(process.env.HODEI_CRASH_SEED ?? Date.now() % 100_000);

const servers: ServerProcess[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    if (s.child.exitCode === null && s.child.signalCode === null) {
      s.child.kill("SIGKILL");
      await s.exited;
    }
  }
});

/** A root, three in parallel, a join: each marks its start and end and prints LINES numbered lines over 1.5-3 s. */
function stages(marker: string, rand: () => number): PlannedStage[] {
  const s = (id: string, needs: string[]) => {
    const pause = ((1.5 + rand() * 1.5) / LINES).toFixed(2);
    return stage(id, {
      needs,
      commands: [
        `echo "$HODEI_RUN_ID $HODEI_STAGE_ID $HODEI_ATTEMPT start $(date +%s%N)" >> ${marker}`,
        `i=0; while [ $i -lt ${LINES} ]; do echo "${id} line $i"; i=$((i+1)); sleep ${pause}; done`,
        `echo "$HODEI_RUN_ID $HODEI_STAGE_ID $HODEI_ATTEMPT end $(date +%s%N)" >> ${marker}`,
      ],
    });
  };
  return [s("root", []), s("a", ["root"]), s("b", ["root"]), s("c", ["root"]), s("join", ["a", "b", "c"])];
}

interface Mark {
  runId: string;
  stageId: string;
  attempt: number;
  what: string;
  ns: bigint;
}

async function marks(marker: string): Promise<Mark[]> {
  return (await readFile(marker, "utf8").catch(() => ""))
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [runId, stageId, attempt, what, ns] = l.split(" ");
      return { runId: runId!, stageId: stageId!, attempt: Number(attempt), what: what!, ns: BigInt(ns!) };
    });
}

describePostgres("fail-over between two servers", (store) => {
  it(`one of two servers SIGKILLed while its agents run stages: every run succeeds, nothing is recorded lost (seed ${seed})`, { timeout: 180_000 }, async () => {
    const rand = prng(seed);
    const { databaseUrl } = await store.create();
    const marker = path.join(await tempDir("hodei-failover-"), "marks.log");
    const ids = await seedRuns({ databaseUrl, dataDir: await tempDir() }, [0, 1, 2].map(() => ({ stages: stages(marker, rand) })));
    // A lease shorter than the default keeps the take-over quick; no retries, so a lost stage fails its run.
    const env = { HODEI_LEASE_MS: "6000", HODEI_LOCAL_AGENTS: "3" };
    const start = async (name: string) => {
      const http = await freePort();
      const s = startServer({ databaseUrl, dataDir: await tempDir(`hodei-${name}-`) }, { http, grpc: await freePort() }, env);
      servers.push(s);
      await s.ready;
      return { ...s, http };
    };
    const a = await start("node-a");
    // A claimed every run before B started; B is the survivor.
    await waitForRunsStarted(marker, ids.length);
    const b = await start("node-b");
    // A's agents learn of B at A's next renewal of the node registry (a third of the lease).
    await new Promise((r) => setTimeout(r, 2_500 + rand() * 1_500));
    const before = await marks(marker);
    a.child.kill("SIGKILL");
    await a.exited;
    const running = before.filter((m) => m.what === "start" && !before.some((e) => e.what === "end" && e.runId === m.runId && e.stageId === m.stageId));
    await waitForRunsCompleted(b.http, ids, 150_000);
    b.child.kill("SIGTERM");
    await b.exited;

    const output = () => `seed ${seed}\n--- node-a\n${a.output()}\n--- node-b\n${b.output()}`;
    // The fault happened while stages ran.
    expect(running.length, output()).toBeGreaterThan(0);
    const { events, state } = await readHistories({ databaseUrl, dataDir: await tempDir() }, ids);
    const all = await marks(marker);
    const db = await openDatabase({ databaseUrl, dataDir: await tempDir() });
    try {
      for (const id of ids) {
        const run = state.get(id)!;
        const finished = events.get(id)!.filter((e) => e.type === "attempt.finished");
        expect(run.conclusion, `${id}: ${JSON.stringify(finished)}\n${output()}`).toBe("success");
        expect(finished.filter((f) => f.data.outcome === "lost"), `${id}\n${output()}`).toEqual([]);
        for (const s of run.stages.values()) {
          const mine = all.filter((m) => m.runId === id && m.stageId === s.plan.id);
          // Ran once: one start and one end of attempt 1, the end after the start.
          expect(mine.map((m) => `${m.attempt} ${m.what}`), `${id} ${s.plan.id}`).toEqual(["1 start", "1 end"]);
          expect(mine[0]!.ns < mine[1]!.ns).toBe(true);
          const { rows } = await db.query<{ data: string }>("select data from log_chunks where run_id = $1 and stage_id = $2 and attempt = 1 order by seq", [id, s.plan.id]);
          const printed = rows.map((r) => r.data).join("").split("\n").filter((l) => l.startsWith(`${s.plan.id} line `));
          expect(printed, `${id} ${s.plan.id}`).toEqual(Array.from({ length: LINES }, (_, i) => `${s.plan.id} line ${i}`));
        }
      }
    } finally {
      await db.close();
    }
  });
});

/** Until `count` stages have started (the root of each run). */
async function waitForRunsStarted(marker: string, count: number): Promise<void> {
  const until = Date.now() + 60_000;
  while ((await marks(marker)).filter((m) => m.what === "start").length < count) {
    if (Date.now() > until) throw new Error(`fewer than ${count} stages started within 60 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

