/**
 * Fencing (issue 16): an agent frozen with SIGSTOP past its lease, then
 * resumed. The server records its attempts lost and retries them elsewhere;
 * the frozen agent's stages must be dead before a retry starts (its stage
 * groups' watchdog kills them), the resumed agent must report nothing more of
 * them, and it gets no new work until its heartbeat is clean. Each stage
 * prints ticks and records them, with its attempt and the time, in a marker
 * file: two attempts of one stage must never tick in overlapping intervals.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { expect, it } from "vitest";
import { openDatabase } from "../../src/store/open.js";
import { describePostgres, tempDir } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { freePort, readHistories, seedRuns, startServer, type ServerProcess, waitForRunsCompleted } from "./crash-harness.js";

const TICKS = 36;

function ticking(marker: string) {
  return stage("tick", {
    retries: 3,
    commands: [`i=0; while [ $i -lt ${TICKS} ]; do echo "$HODEI_RUN_ID $HODEI_STAGE_ID $HODEI_ATTEMPT $(date +%s%N)" >> ${marker}; echo "tick $i"; i=$((i+1)); sleep 0.25; done`],
  });
}

/** The local agent processes a server started (its children running the agent). */
async function agentPids(server: ServerProcess): Promise<number[]> {
  const pid = server.child.pid!;
  const tasks = await readdir(`/proc/${pid}/task`);
  const children = (await Promise.all(tasks.map((t) => readFile(`/proc/${pid}/task/${t}/children`, "utf8").catch(() => ""))))
    .join(" ")
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
  const agents: number[] = [];
  for (const child of children) {
    const cmdline = await readFile(`/proc/${child}/cmdline`, "utf8").catch(() => "");
    if (/agent/.test(cmdline)) agents.push(child);
  }
  return agents;
}

function parentOf(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/stat`, "utf8").then(
    (stat) => Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]),
    () => 0,
  );
}

/** An agent that is running a stage: the grandparent of a stage's `sleep`. */
async function busyAgent(server: ServerProcess): Promise<number | undefined> {
  const agents = new Set(await agentPids(server));
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = await readFile(`/proc/${entry}/comm`, "utf8").catch(() => "");
    if (comm.trim() !== "sleep") continue;
    const agent = await parentOf(await parentOf(Number(entry)));
    if (agents.has(agent)) return agent;
  }
  return undefined;
}


describePostgres("fencing a frozen agent", (store) => {
  it("an agent SIGSTOPped past its lease and resumed: every run succeeds, no two attempts of a stage overlap, stored logs are whole", { timeout: 120_000 }, async () => {
    const where = { ...(await store.create()), dataDir: await tempDir() };
    const marker = path.join(await tempDir("hodei-fencing-"), "ticks.log");
    const ids = await seedRuns(where, [0, 1].map(() => ({ stages: [ticking(marker)] })));
    const ports = { http: await freePort(), grpc: await freePort() };
    const server = startServer(where, ports, { HODEI_LEASE_MS: "3000", HODEI_LOCAL_AGENTS: "3" });
    try {
      await server.ready;
      // Both stages run (on two of the three agents); the third is free to take a retry at once.
      const until = Date.now() + 30_000;
      while ((await readFile(marker, "utf8").catch(() => "")).split("\n").filter(Boolean).length < 4 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      const frozen = await busyAgent(server);
      expect(frozen, server.output()).toBeDefined();
      process.kill(frozen!, "SIGSTOP");
      await new Promise((r) => setTimeout(r, 6_000));
      process.kill(frozen!, "SIGCONT");
      await waitForRunsCompleted(ports.http, ids, 90_000);
    } finally {
      server.child.kill("SIGTERM");
      await server.exited;
    }

    const { events, state } = await readHistories(where, ids);
    const lines = (await readFile(marker, "utf8")).split("\n").filter(Boolean).map((l) => l.split(" "));
    let lost = 0;
    for (const id of ids) {
      const run = state.get(id)!;
      expect(run.conclusion, `${id}\n${server.output()}`).toBe("success");
      const history = events.get(id)!;
      lost += history.filter((e) => e.type === "attempt.finished" && e.data.outcome === "lost").length;
      // Attempts of the stage in order; each one's ticks all before the next one's first.
      const ticks = new Map<number, bigint[]>();
      for (const [runId, , attempt, ns] of lines) if (runId === id) ticks.set(Number(attempt), [...(ticks.get(Number(attempt)) ?? []), BigInt(ns!)]);
      const attempts = [...ticks.keys()].sort((a, b) => a - b);
      for (let i = 1; i < attempts.length; i++) {
        const before = ticks.get(attempts[i - 1]!)!;
        const after = ticks.get(attempts[i]!)!;
        const lastBefore = before.reduce((a, b) => (a > b ? a : b));
        const firstAfter = after.reduce((a, b) => (a < b ? a : b));
        expect(lastBefore < firstAfter, `${id}: attempt ${attempts[i - 1]} ticked after attempt ${attempts[i]} started`).toBe(true);
      }
      // The attempt that succeeded ran whole, and its stored log is what it printed.
      const winner = run.stages.get("tick")!.attempt;
      expect(ticks.get(winner)).toHaveLength(TICKS);
      const db = await openDatabase(where);
      try {
        const { rows } = await db.query<{ data: string }>("select data from log_chunks where run_id = $1 and stage_id = 'tick' and attempt = $2 order by seq", [id, winner]);
        const printed = rows.map((r) => r.data).join("").split("\n").filter((l) => l.startsWith("tick "));
        expect(printed).toEqual(Array.from({ length: TICKS }, (_, i) => `tick ${i}`));
      } finally {
        await db.close();
      }
    }
    // The fault happened: the frozen agent's attempt was recorded lost and retried.
    expect(lost, server.output()).toBeGreaterThan(0);
  });
});
