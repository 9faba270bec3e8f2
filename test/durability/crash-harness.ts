/**
 * Helpers for crash tests: seeding runs into a store as if a process that
 * since died had created them, starting and SIGKILLing real `hodei server`
 * processes, and reading back what happened.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import type { PlannedStage } from "../../src/pipeline-parser/types.js";
import { migrate } from "../../src/store/migrate.js";
import { openDatabase } from "../../src/store/open.js";
import { RunRepository } from "../../src/store/run-repository.js";
import { hodeiBin, repoRoot } from "../helpers/hodei-cli.js";
import { stage } from "../saga/plan-stages.js";

export interface StoreLocation {
  databaseUrl?: string;
  dataDir: string;
}

/** A small seeded PRNG, so a failing run can be replayed with its seed. */
export function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** Ports this process has handed out: the kernel may offer a just-closed port again, and a server given the same port twice fails with EADDRINUSE. */
const handedOut = new Set<number>();

/** A free TCP port on 127.0.0.1, never one this process handed out before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/**
 * Ten stages: a root, a fan-out of four, three joins of two, and a final
 * join. Every stage sleeps a little and records that it ran in `marker`.
 * With `failing`, one fan-out stage fails for real (exit 1, no retries).
 */
export function tenStages(marker: string, rand: () => number, failing: boolean): PlannedStage[] {
  const cmd = () => [`echo "$HODEI_RUN_ID $HODEI_STAGE_ID $HODEI_ATTEMPT" >> ${marker}`, `sleep ${(0.2 + rand() * 0.8).toFixed(2)}`];
  const s = (id: string, needs: string[]) => stage(id, { needs, commands: cmd(), retries: 5 });
  const stages = [
    s("root", []),
    s("fan1", ["root"]),
    s("fan2", ["root"]),
    s("fan3", ["root"]),
    s("fan4", ["root"]),
    s("join12", ["fan1", "fan2"]),
    s("join23", ["fan2", "fan3"]),
    s("join34", ["fan3", "fan4"]),
    s("almost", ["join12", "join23"]),
    s("final", ["almost", "join34"]),
  ];
  if (failing) stages[4] = stage("fan4", { needs: ["root"], commands: [...cmd(), "exit 1"], retries: 0 });
  return stages;
}

/**
 * Eight stages without `retries`: a root, a fan-out of four, two joins of
 * two, and a final join. Each records that it ran in `marker` and sleeps
 * 1-3 s, long enough to be running when the server is killed.
 */
export function eightStages(marker: string, rand: () => number): PlannedStage[] {
  const s = (id: string, needs: string[]) =>
    stage(id, { needs, commands: [`echo "$HODEI_RUN_ID $HODEI_STAGE_ID $HODEI_ATTEMPT" >> ${marker}`, `sleep ${(1 + rand() * 2).toFixed(2)}`, `echo "${id} done"`] });
  return [
    s("root", []),
    s("fan1", ["root"]),
    s("fan2", ["root"]),
    s("fan3", ["root"]),
    s("fan4", ["root"]),
    s("join12", ["fan1", "fan2"]),
    s("join34", ["fan3", "fan4"]),
    s("final", ["join12", "join34"]),
  ];
}

/** Creates runs owned by a process that is already gone (its ownership lapsed at once). */
export async function seedRuns(where: StoreLocation, runs: { stages: PlannedStage[] }[]): Promise<string[]> {
  const db = await openDatabase(where);
  try {
    await migrate(db);
    const repo = new RunRepository(db, { owner: "a-process-that-died", ownershipMs: 1 });
    const source = await mkdtemp(path.join(os.tmpdir(), "hodei-crash-src-"));
    await writeFile(path.join(source, "README"), "crash test\n");
    const ids: string[] = [];
    for (const [i, r] of runs.entries()) {
      const id = `crash-${i}-${Date.now()}`;
      await repo.create(
        id,
        {
          type: "run.planned",
          data: { pipeline: "crash", source: { kind: "directory", path: source }, repo: "acme/crash", sha: "c".repeat(40), ref: "refs/heads/main", event: "manual", stages: r.stages },
        },
        new Date().toISOString(),
      );
      ids.push(id);
    }
    return ids;
  } finally {
    await db.close();
  }
}

export interface ServerProcess {
  child: ChildProcess;
  output: () => string;
  ready: Promise<void>;
  exited: Promise<number | null>;
}

export function startServer(where: StoreLocation, ports: { http: number; grpc: number }, extraEnv: NodeJS.ProcessEnv = {}): ServerProcess {
  const child = spawn(process.execPath, [hodeiBin, "server"], {
    cwd: repoRoot,
    env: {
      ...process.env,
      DATABASE_URL: where.databaseUrl ?? "",
      HODEI_DATA_DIR: where.dataDir,
      HODEI_PORT: String(ports.http),
      HODEI_GRPC_PORT: String(ports.grpc),
      HODEI_LEASE_MS: "2000",
      HODEI_LOCAL_AGENTS: "3",
      ...extraEnv,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (out.includes("hodei server ready")) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
    void exited.then((code) => {
      clearInterval(timer);
      reject(new Error(`hodei server exited with ${code} before it was ready:\n${out}`));
    });
  });
  ready.catch(() => undefined);
  return { child, output: () => out, ready, exited };
}

export interface AttemptLine {
  runId: string;
  stageId: string;
  attempt: number;
}

export async function readMarker(marker: string): Promise<AttemptLine[]> {
  const text = await readFile(marker, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [runId, stageId, attempt] = line.split(" ");
      return { runId: runId!, stageId: stageId!, attempt: Number(attempt) };
    });
}

export async function readHistories(where: StoreLocation, ids: readonly string[]) {
  const db = await openDatabase(where);
  try {
    const out = new Map<string, { seq: number; type: string; data: { stageId?: string; attempt?: number; outcome?: string; reason?: string | null } }[]>();
    for (const id of ids) {
      const { rows } = await db.query<{ seq: number; type: string; data: { stageId?: string; attempt?: number; outcome?: string; reason?: string | null } }>(
        "select seq, type, data from run_events where run_id = $1 order by seq",
        [id],
      );
      out.set(id, rows);
    }
    const state = new Map<string, Awaited<ReturnType<RunRepository["load"]>>>();
    const repo = new RunRepository(db);
    for (const id of ids) state.set(id, await repo.load(id));
    return { events: out, state };
  } finally {
    await db.close();
  }
}

/** Resolves when every run answers `completed` on the server's API (unreachable counts as not yet); throws with their statuses after `deadlineMs`. */
export async function waitForRunsCompleted(httpPort: number, ids: readonly string[], deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const statuses = await Promise.all(
      ids.map(async (id) => {
        const res = await fetch(`http://127.0.0.1:${httpPort}/api/runs/${id}`).catch(() => null);
        return res?.ok ? ((await res.json()) as { status: string }).status : "unreachable";
      }),
    );
    if (statuses.every((s) => s === "completed")) return;
    if (Date.now() > until) throw new Error(`runs not completed within ${deadlineMs} ms: ${statuses.join(", ")}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
