/**
 * A server paused with SIGSTOP for 10 s, less than its lease, loses nothing:
 * the heartbeats its agents sent meanwhile wait unread in the sockets, and
 * the lease sweep (src/engine/lease-sweep.ts) does not hold the pause against
 * them. The stage that was running ends success with attempt 1 and its whole log.
 */
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { expect, it } from "vitest";
import { tempDir } from "../helpers/databases.js";
import { freePort, readHistories, seedRuns, startServer } from "./crash-harness.js";
import { stage } from "../saga/plan-stages.js";

interface RunView {
  status: string;
  stages: { id: string; status: string; attempt: number; conclusion: string | null }[];
}

async function runView(httpPort: number, id: string): Promise<RunView | null> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/api/runs/${id}`).catch(() => null);
  return res?.ok ? ((await res.json()) as RunView) : null;
}

async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

it("a 10 s SIGSTOP of the server, shorter than the lease, costs the running stage nothing", { timeout: 120_000 }, async () => {
  const where = { dataDir: await tempDir() };
  const marker = path.join(await mkdtemp(path.join(os.tmpdir(), "hodei-pause-")), "ran.log");
  const expected = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`);
  const [id] = await seedRuns(where, [
    {
      stages: [
        stage("long", {
          commands: [`echo "$HODEI_RUN_ID $HODEI_STAGE_ID $HODEI_ATTEMPT" >> ${marker}`, "for i in $(seq 1 20); do echo line $i; sleep 1; done"],
        }),
      ],
    },
  ]);
  const ports = { http: await freePort(), grpc: await freePort() };
  // A 10.5 s lease (heartbeats every 3.5 s): a pause of 10 s plus the time
  // since the last heartbeat read before it is more than the lease, most
  // times, unless the pause is not counted.
  const server = startServer(where, ports, { HODEI_LEASE_MS: "10500", HODEI_LOCAL_AGENTS: "1" });
  try {
    await server.ready;
    await until("the stage runs", async () => (await runView(ports.http, id!))?.stages[0]?.status === "in_progress", 30_000);
    await new Promise((r) => setTimeout(r, 3000));
    server.child.kill("SIGSTOP");
    await new Promise((r) => setTimeout(r, 10_000));
    server.child.kill("SIGCONT");
    await until("the run completes", async () => (await runView(ports.http, id!))?.status === "completed", 60_000);
    const run = (await runView(ports.http, id!))!;
    expect(run.stages[0], server.output().slice(-5000)).toMatchObject({ conclusion: "success", attempt: 1 });
    const log = await (await fetch(`http://127.0.0.1:${ports.http}/api/runs/${id}/stages/long/logs`)).text();
    // Its whole output, after the commands' own "$ ..." lines.
    expect(log.trim().split("\n").filter((l) => !l.startsWith("$ "))).toEqual(expected);
  } finally {
    server.child.kill("SIGCONT");
    server.child.kill("SIGTERM");
    await server.exited;
  }
  const { events } = await readHistories(where, [id!]);
  const finished = events.get(id!)!.filter((e) => e.type === "attempt.finished");
  expect(finished.map((e) => e.data.outcome)).toEqual(["success"]);
});
