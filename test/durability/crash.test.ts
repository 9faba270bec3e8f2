/**
 * Crash tests (issue: durable execution). Real `hodei server` processes with
 * real local agents are SIGKILLed at random moments and restarted; every run
 * must still complete with the right conclusion, no attempt may run twice
 * unless it was recorded as lost and retried, and no history has a gap.
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect, it } from "vitest";
import { describeEachStore, describePostgres, tempDir } from "../helpers/databases.js";
import {
  freePort,
  prng,
  readHistories,
  readMarker,
  seedRuns,
  startServer,
  tenStages,
  type ServerProcess,
  type StoreLocation,
} from "./crash-harness.js";

const seed = Number(process.env.HODEI_CRASH_SEED ?? Date.now() % 100_000);

async function waitForRuns(httpPort: number, ids: readonly string[], deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const runs = await Promise.all(
      ids.map(async (id) => {
        try {
          const res = await fetch(`http://127.0.0.1:${httpPort}/api/runs/${id}`);
          return res.ok ? ((await res.json()) as { status: string; stages: { id: string; status: string; attempt: number }[] }) : null;
        } catch {
          return null;
        }
      }),
    );
    if (runs.every((r) => r?.status === "completed")) return;
    if (Date.now() > until) {
      const detail = runs.map((r, i) => (r ? `${ids[i]}: ${r.status} [${r.stages.filter((s) => s.status !== "completed").map((s) => `${s.id}:${s.status}#${s.attempt}`).join(" ")}]` : `${ids[i]}: unreachable`));
      throw new Error(`runs not completed in time:\n${detail.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function kill(server: ServerProcess): Promise<void> {
  server.child.kill("SIGKILL");
  await server.exited;
}

/** Every invariant of a crash test, read from the store and the marker file after the fact. */
async function checkInvariants(where: StoreLocation, ids: string[], failingRun: string, marker: string) {
  const { events, state } = await readHistories(where, ids);
  const lines = await readMarker(marker);
  for (const id of ids) {
    const run = state.get(id)!;
    const history = events.get(id)!;
    // Completed, with the right conclusion.
    expect(run.conclusion, `run ${id}`).toBe(id === failingRun ? "failure" : "success");
    if (id === failingRun) {
      expect(run.stages.get("fan4")!.conclusion).toBe("failure");
      expect(run.stages.get("final")!.conclusion).toBe("skipped");
    } else {
      for (const s of run.stages.values()) expect(s.conclusion, `${id} ${s.plan.id}`).toBe("success");
    }
    // No gaps: seqs are exactly 1..n.
    expect(history.map((e) => e.seq)).toEqual(history.map((_, i) => i + 1));
    // Each (stage, attempt) ran at most once, and only attempts that were leased ran.
    const ran = lines.filter((l) => l.runId === id);
    const seen = new Set<string>();
    for (const l of ran) {
      const key = `${l.stageId}#${l.attempt}`;
      expect(seen.has(key), `attempt ${key} of ${id} ran twice`).toBe(false);
      seen.add(key);
      expect(history.some((e) => e.type === "attempt.leased" && e.data.stageId === l.stageId && e.data.attempt === l.attempt)).toBe(true);
    }
    // A stage has several attempts only because the earlier ones were recorded as lost.
    for (const s of run.stages.values()) {
      const finished = history.filter((e) => e.type === "attempt.finished" && e.data.stageId === s.plan.id);
      for (const f of finished.slice(0, -1)) expect(f.data.outcome, `${id} ${s.plan.id}#${f.data.attempt}: ${JSON.stringify(f.data)}`).toBe("lost");
      // Every stage ran at least once, but for those skipped behind the failure and the failing
      // stage (no retries) when its one attempt was lost before it ran: a failure for "agent lost".
      if (s.conclusion === "skipped" || finished.at(-1)?.data.outcome === "lost") continue;
      expect(ran.some((l) => l.stageId === s.plan.id), `${id} ${s.plan.id} never ran`).toBe(true);
    }
  }
  return { lines, lost: [...events.values()].flat().filter((e) => e.type === "attempt.finished" && e.data.outcome === "lost").length };
}

describeEachStore("crash recovery", (store) => {
  it(`survives ten SIGKILLs of the server at random moments (seed ${seed})`, { timeout: 240_000 }, async () => {
    const rand = prng(seed);
    const where = store.kind === "postgres" ? { ...(await store.create()), dataDir: await tempDir() } : await store.create();
    const marker = path.join(await mkdtemp(path.join(os.tmpdir(), "hodei-crash-")), "ran.log");
    const ids = await seedRuns(where, [0, 1, 2].map((i) => ({ stages: tenStages(marker, rand, i === 1) })));
    const ports = { http: await freePort(), grpc: await freePort() };

    for (let kills = 0; kills < 10; kills++) {
      const server = startServer(where, ports);
      await server.ready;
      await new Promise((r) => setTimeout(r, 300 + rand() * 1700));
      await kill(server);
    }
    const last = startServer(where, ports);
    try {
      await last.ready;
      await waitForRuns(ports.http, ids, 150_000);
    } finally {
      last.child.kill("SIGTERM");
      await last.exited;
    }
    const { lines, lost } = await checkInvariants(where, ids, ids[1]!, marker);
    console.info(`crash test seed ${seed}: ${lines.length} attempts ran, ${lost} recorded lost`);
  });
});

describePostgres("two control planes on one Postgres", (store) => {
  it(`one is SIGKILLed mid-run and the other takes over its runs (seed ${seed})`, { timeout: 180_000 }, async () => {
    const rand = prng(seed + 1);
    const databaseUrl = (await store.create()).databaseUrl!;
    const a = { databaseUrl, dataDir: await tempDir() };
    const b = { databaseUrl, dataDir: await tempDir() };
    const marker = path.join(await mkdtemp(path.join(os.tmpdir(), "hodei-crash2-")), "ran.log");
    const ids = await seedRuns(a, [0, 1, 2, 3].map((i) => ({ stages: tenStages(marker, rand, i === 1) })));
    const portsA = { http: await freePort(), grpc: await freePort() };
    const portsB = { http: await freePort(), grpc: await freePort() };

    const serverA = startServer(a, portsA);
    const serverB = startServer(b, portsB);
    try {
      await Promise.all([serverA.ready, serverB.ready]);
      await new Promise((r) => setTimeout(r, 1500 + rand() * 1000));
      await kill(serverA);
      await waitForRuns(portsB.http, ids, 120_000);
    } finally {
      serverA.child.kill("SIGKILL");
      serverB.child.kill("SIGTERM");
      await Promise.all([serverA.exited, serverB.exited]);
    }
    await checkInvariants(a, ids, ids[1]!, marker);
  });
});
