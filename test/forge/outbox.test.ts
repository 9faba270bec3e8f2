/**
 * The forge outbox (src/forge/outbox-store.ts, outbox-worker.ts) on a
 * virtual clock, against real databases and the real GitHub adapter talking
 * to the local fake GitHub (checked against GitHub's OpenAPI description):
 * retries double up to their cap and never stop, a rate-limited answer's
 * wait is honoured, an older event never overwrites a newer state, a
 * permanent refusal is given up with its reason, claims keep two servers off
 * one row, and reconciliation posts checks whose rows were never written.
 */
import { generateKeyPairSync } from "node:crypto";
import { afterEach, beforeEach, expect, it } from "vitest";
import type { RunEventBody } from "../../src/saga/events.js";
import type { RunState } from "../../src/saga/run-state.js";
import type { Database } from "../../src/store/database.js";
import { RunRepository } from "../../src/store/run-repository.js";
import { postStageCheck } from "../../src/forge/check-post.js";
import { GithubForge } from "../../src/forge/github.js";
import { claimDueReports, finishReport, giveUpReport, listReports, recordReports } from "../../src/forge/outbox-store.js";
import { OutboxWorker } from "../../src/forge/outbox-worker.js";
import { ForgeReporter } from "../../src/forge/reporter.js";
import { recordForgeRun } from "../../src/triggers/run-index.js";
import { describeEachStore } from "../helpers/databases.js";
import { VirtualClock } from "../helpers/virtual-clock.js";
import type { FakeForge } from "./fake-forge.js";
import { fakeGithub } from "./fake-github.js";
import { stage } from "../saga/plan-stages.js";

const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048, privateKeyEncoding: { type: "pkcs1", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } });
const isCheckCall = (operationId: string | null) => operationId === "checks/create" || operationId === "checks/update";
/** A check call for stage `id` (the runs here only create checks, which name it). */
const callFor = (id: string) => (req: { operationId: string | null; body: Record<string, unknown> }) => isCheckCall(req.operationId) && req.body.name === `ci / ${id}`;

/** Real time a store write and a forge call may take on a loaded machine. */
const POLL = { timeout: 20_000, interval: 20 };

let github: FakeForge;
beforeEach(async () => {
  github = await fakeGithub({ permissions: new Map(), pulls: new Map() }).start();
});
afterEach(async () => {
  await github.stop();
});

/** What each check run looks like on the fake GitHub now, by name (answered calls only). */
function checksNow(g: FakeForge): Map<string, string> {
  const names = new Map<number, string>();
  const out = new Map<string, string>();
  for (const r of g.requests) {
    if (!isCheckCall(r.operationId) || !r.answer || r.answer.status >= 300) continue;
    const id = r.operationId === "checks/create" ? (r.answer.body as { id: number }).id : Number(r.path.split("/")[5]);
    if (r.operationId === "checks/create") names.set(id, r.body.name as string);
    if (r.body.status) out.set(names.get(id) ?? "?", r.body.status === "completed" ? `completed:${r.body.conclusion as string}` : (r.body.status as string));
  }
  return out;
}

interface Setup {
  db: Database;
  runs: RunRepository;
  clock: VirtualClock;
  logs: string[];
  worker: (owner?: string) => OutboxWorker;
  /** Moves virtual time on, letting the last worker made finish what each timer started. */
  advance: (ms: number) => Promise<void>;
  /** A forge-triggered run of stages `a` and `b`, with `events` appended after its plan. */
  run: (id: string, events: RunEventBody[]) => Promise<RunState>;
}

function setup(db: Database): Setup {
  const clock = new VirtualClock();
  const logs: string[] = [];
  const runs = new RunRepository(db, { owner: "test", ownershipMs: 3_600_000 });
  let last: OutboxWorker | null = null;
  const forges = { github: new GithubForge({ apiUrl: github.url, auth: { kind: "app", appId: 4242, privateKey } }) };
  return {
    db,
    runs,
    clock,
    logs,
    // Settled first: the worker sets its next timer only at the end of a pass, which a loaded machine may not have reached yet.
    advance: async (ms) => {
      await last?.settled();
      await clock.advance(ms, async () => {
        await new Promise((r) => setTimeout(r, 10));
        await last?.settled();
      });
    },
    worker: (owner = "server-a") =>
      (last = new OutboxWorker({
        db,
        owner,
        forges: ["github"],
        loadRun: (id) => runs.load(id),
        post: (state, stageId) => postStageCheck({ db, forges, publicUrl: "http://hodei.test" }, state, stageId),
        clock,
        backoff: { baseMs: 1000, maxMs: 8000 },
        jitter: () => 1,
        log: (m) => logs.push(m),
      })),
    async run(id, events) {
      const at = () => clock.now().toISOString();
      let state = await runs.create(
        id,
        {
          type: "run.planned",
          data: {
            pipeline: "ci",
            source: { kind: "git", url: "file:///nowhere", sha: "a".repeat(40) },
            repo: "acme/widgets",
            sha: "a".repeat(40),
            ref: "refs/heads/main",
            event: "push",
            stages: [stage("a"), stage("b", { needs: ["a"] })],
            trigger: { forge: "github", repo: "acme/widgets", cloneUrl: "file:///nowhere", installationId: 77, deliveryId: "d-1", pullRequest: null, sender: "octocat" },
          },
        },
        at(),
      );
      await recordForgeRun(db, { runId: id, forge: "github", repo: "acme/widgets", headSha: "a".repeat(40), prNumber: null, deliveryId: "d-1" }, clock.now());
      if (events.length > 0) state = await runs.append(state, events, at());
      return state;
    },
  };
}

/** Stage `id` run to `conclusion` (exit 0 or 3). */
function ran(id: string, conclusion: "success" | "failure"): RunEventBody[] {
  return [
    { type: "stage.queued", data: { stageId: id, attempt: 1 } },
    { type: "attempt.leased", data: { stageId: id, attempt: 1, agentId: "agent-1" } },
    { type: "attempt.started", data: { stageId: id, attempt: 1, agentId: "agent-1" } },
    { type: "attempt.finished", data: { stageId: id, attempt: 1, outcome: conclusion, exitCode: conclusion === "success" ? 0 : 3, reason: null } },
    { type: "stage.completed", data: { stageId: id, conclusion, reason: null } },
  ];
}

const finished: RunEventBody[] = [...ran("a", "success"), ...ran("b", "failure"), { type: "run.completed", data: { conclusion: "failure" } }];

/** Waits (in real time) until the outbox row of `stageId` has `attempts` failures, or is gone (null). */
async function rowAfter(db: Database, stageId: string, attempts: number | null, logs: string[] = []) {
  let row: Awaited<ReturnType<typeof listReports>>[number] | undefined;
  try {
    await expect
      .poll(async () => {
        row = (await listReports(db)).find((r) => r.stageId === stageId);
        return attempts === null ? row === undefined : row?.attempts === attempts && row.claimedBy === null;
      }, POLL)
      .toBe(true);
  } catch (error) {
    throw new Error(`row of ${stageId} never had ${attempts} failures: ${JSON.stringify(row)}\n${logs.join("\n")}`, { cause: error });
  }
  return row;
}

describeEachStore("forge outbox", (store) => {
  it("keeps the newest seq of a check: an older event recorded later never lowers it; a given-up row opens again only for a newer event", async () => {
    const s = setup(await store.openMigrated());
    await s.run("r1", []);
    await recordReports(s.db, [{ runId: "r1", stageId: "a", forge: "github", seq: 7 }], s.clock.now());
    await recordReports(s.db, [{ runId: "r1", stageId: "a", forge: "github", seq: 4 }], s.clock.now());
    expect((await listReports(s.db)).map((r) => [r.stageId, r.seq, r.status])).toEqual([["a", 7, "pending"]]);

    const [claimed] = await claimDueReports(s.db, 8, { owner: "x", at: s.clock.now(), expiresAt: new Date(s.clock.now().getTime() + 60_000) });
    await giveUpReport(s.db, { runId: "r1", stageId: "a" }, "x", claimed!.attempts + 1, "github update check run: 422: invalid", s.clock.now());
    await recordReports(s.db, [{ runId: "r1", stageId: "a", forge: "github", seq: 7 }], s.clock.now());
    expect((await listReports(s.db))[0]).toMatchObject({ status: "given_up", attempts: 1, lastError: "github update check run: 422: invalid" });
    await recordReports(s.db, [{ runId: "r1", stageId: "a", forge: "github", seq: 9 }], s.clock.now());
    expect((await listReports(s.db))[0]).toMatchObject({ status: "pending", attempts: 0, seq: 9 });
  });

  it("a live claim keeps another server off the row; a lapsed one is taken over, and the old owner's late finish changes nothing", async () => {
    const s = setup(await store.openMigrated());
    await s.run("r1", []);
    await recordReports(s.db, [{ runId: "r1", stageId: "a", forge: "github", seq: 3 }], s.clock.now());
    const t0 = s.clock.now().getTime();
    const claim = (owner: string, at: number) => claimDueReports(s.db, 8, { owner, at: new Date(at), expiresAt: new Date(at + 60_000) });
    expect(await claim("server-a", t0)).toHaveLength(1);
    expect(await claim("server-b", t0 + 30_000)).toEqual([]);
    expect(await claim("server-b", t0 + 61_000)).toHaveLength(1);
    await finishReport(s.db, { runId: "r1", stageId: "a" }, "server-a", 3, new Date(t0 + 62_000));
    expect((await listReports(s.db)).map((r) => r.claimedBy)).toEqual(["server-b"]);
    await finishReport(s.db, { runId: "r1", stageId: "a" }, "server-b", 3, new Date(t0 + 62_000));
    expect(await listReports(s.db)).toEqual([]);
  });

  it("a forge failing 10 times is retried after 1, 2, 4, 8, 8... s without giving up, with one log line per failure, and the check ends completed", async () => {
    const s = setup(await store.openMigrated());
    await s.run("r1", finished);
    let failures = 0;
    github.fault = (req) => (callFor("b")(req) && failures < 10 ? (failures++, { status: 502, body: { message: "Bad Gateway" } }) : null);
    await recordReports(s.db, [{ runId: "r1", stageId: "b", forge: "github", seq: finished.length + 1 }], s.clock.now());
    const worker = s.worker();
    await worker.start();
    const waits: number[] = [];
    for (let n = 1; n <= 10; n++) {
      const row = await rowAfter(s.db, "b", n, s.logs);
      const wait = row!.nextAttemptAt.getTime() - s.clock.now().getTime();
      waits.push(wait);
      await s.advance(wait);
    }
    await rowAfter(s.db, "b", null);
    await worker.stop();
    expect(waits).toEqual([1000, 2000, 4000, 8000, 8000, 8000, 8000, 8000, 8000, 8000]);
    expect(checksNow(github).get("ci / b")).toBe("completed:failure");
    const failed = s.logs.filter((l) => l.includes("reporting check b of run r1 failed"));
    expect(failed).toHaveLength(10);
    expect(failed[0]).toMatch(/attempt 1\), next try in 1 s: github create check run: 502/);
    expect(github.violations).toEqual([]);
  });

  it("a rate-limited answer waits what GitHub asked for (retry-after), longer than the backoff", async () => {
    const s = setup(await store.openMigrated());
    await s.run("r1", finished);
    let limited = false;
    github.fault = (req) =>
      callFor("a")(req) && !limited
        ? ((limited = true), { status: 403, headers: { "retry-after": "120", "x-ratelimit-remaining": "0" }, body: { message: "API rate limit exceeded" } })
        : null;
    await recordReports(s.db, [{ runId: "r1", stageId: "a", forge: "github", seq: finished.length + 1 }], s.clock.now());
    const worker = s.worker();
    await worker.start();
    const row = await rowAfter(s.db, "a", 1);
    expect(row!.nextAttemptAt.getTime() - s.clock.now().getTime()).toBe(120_000);
    expect(row!.lastError).toMatch(/403/);
    // Not tried before the wait is over.
    const calls = () => github.requests.filter(callFor("a")).length;
    await s.advance(119_000);
    expect(calls()).toBe(1);
    await s.advance(1_000);
    await rowAfter(s.db, "a", null);
    await worker.stop();
    expect(calls()).toBe(2);
    expect(checksNow(github).get("ci / a")).toBe("completed:success");
  });

  it("posts the run's newest state: an older event recorded after the check completed sends nothing, and completed stays", async () => {
    const s = setup(await store.openMigrated());
    const state = await s.run("r1", finished);
    const reporter = new ForgeReporter({ db: s.db, forges: { github: new GithubForge({ apiUrl: github.url, auth: { kind: "app", appId: 4242, privateKey } }) }, publicUrl: "http://hodei.test", clock: s.clock });
    const worker = s.worker();
    await worker.start(); // reconciliation records both checks of the finished run
    await rowAfter(s.db, "a", null);
    await rowAfter(s.db, "b", null);
    expect(checksNow(github)).toEqual(new Map([["ci / a", "completed:success"], ["ci / b", "completed:failure"]]));
    const sent = github.requests.length;
    // A late `attempt.started` of b (seq 8) arrives after the completed state was posted.
    const late: RunState = { ...state, seq: 8 };
    reporter.onEvents(late, [{ type: "attempt.started", data: { stageId: "b", attempt: 1, agentId: "agent-1" }, seq: 8, at: s.clock.now().toISOString() }]);
    await reporter.idle();
    worker.wake();
    await rowAfter(s.db, "b", null);
    await worker.stop();
    expect(github.requests.length).toBe(sent);
    expect(checksNow(github).get("ci / b")).toBe("completed:failure");
  });

  it("a re-run the outbox sees only once it has completed still gets a new check run, not an update of the old one", async () => {
    const s = setup(await store.openMigrated());
    let state = await s.run("r1", finished);
    const reporter = new ForgeReporter({ db: s.db, forges: { github: new GithubForge({ apiUrl: github.url, auth: { kind: "app", appId: 4242, privateKey } }) }, publicUrl: "http://hodei.test", clock: s.clock });
    const worker = s.worker();
    await worker.start();
    await rowAfter(s.db, "b", null);
    const firstB = github.requests.filter(callFor("b")).length;
    // b is re-run and passes; the outbox wakes only after all of it is stored.
    const again: RunEventBody[] = [
      { type: "run.rerun_requested", data: { stageIds: ["b"], reason: "test" } },
      ...ran("b", "success").map((e) => ("attempt" in e.data ? { ...e, data: { ...e.data, attempt: 2 } } : e) as RunEventBody),
      { type: "run.completed", data: { conclusion: "success" } },
    ];
    const seq0 = state.seq;
    state = await s.runs.append(state, again, s.clock.now().toISOString());
    reporter.onEvents(state, again.map((e, i) => ({ ...e, seq: seq0 + 1 + i, at: s.clock.now().toISOString() })));
    await reporter.idle();
    worker.wake();
    await rowAfter(s.db, "b", null);
    await worker.stop();
    const calls = github.requests.filter(callFor("b")).slice(firstB);
    expect(calls.map((r): unknown[] => [r.operationId, r.body.status, r.body.conclusion])).toEqual([["checks/create", "completed", "success"]]);
    expect(github.violations).toEqual([]);
  });

  it("a permanent refusal (422) is given up with one log line and the reason recorded; a newer event opens it again", async () => {
    const s = setup(await store.openMigrated());
    await s.run("r1", finished);
    github.fault = (req) => (callFor("a")(req) ? { status: 422, body: { message: "Validation Failed" } } : null);
    await recordReports(s.db, [{ runId: "r1", stageId: "a", forge: "github", seq: finished.length + 1 }], s.clock.now());
    const worker = s.worker();
    await worker.start();
    await expect.poll(async () => (await listReports(s.db)).find((r) => r.stageId === "a")?.status, POLL).toBe("given_up");
    expect((await listReports(s.db)).find((r) => r.stageId === "a")?.lastError).toMatch(/422/);
    expect(s.logs.filter((l) => l.startsWith("forge: gave up reporting check a of run r1"))).toHaveLength(1);
    await worker.idle(); // given up is not pending
    github.fault = null;
    await recordReports(s.db, [{ runId: "r1", stageId: "a", forge: "github", seq: finished.length + 2 }], s.clock.now());
    worker.wake();
    await rowAfter(s.db, "a", null);
    await worker.stop();
    expect(checksNow(github).get("ci / a")).toBe("completed:success");
  });

  it("reconciles at start and periodically: a run whose outbox rows were never written gets its checks completed, and an up-to-date run is left alone", async () => {
    const s = setup(await store.openMigrated());
    await s.run("r1", finished);
    const worker = s.worker();
    await worker.start();
    await worker.idle();
    expect(checksNow(github)).toEqual(new Map([["ci / a", "completed:success"], ["ci / b", "completed:failure"]]));
    const sent = github.requests.length;
    expect(await worker.reconcile()).toBe(0);

    // A second run finished while nobody recorded rows for it (a crash between its events and the rows).
    await s.run("r2", finished);
    await s.advance(60_000);
    await worker.idle();
    await worker.stop();
    expect(github.requests.length - sent).toBe(2);
    expect(await listReports(s.db)).toEqual([]);
  });
});
