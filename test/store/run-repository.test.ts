/**
 * The run store's append against real databases: the unique (run, seq) is
 * the guard between two writers deciding from the same state, the ownership
 * fence keeps a writer that lost its runs out, and every append notifies the
 * other processes; log chunks that come with an append share its fate.
 * (src/store/sql/append-events.ts, migrations/0008.)
 */
import { expect, it } from "vitest";
import { ConcurrentAppendError, OwnershipLostError } from "../../src/engine/ports.js";
import { RunRepository } from "../../src/store/run-repository.js";
import type { RunPlannedData } from "../../src/saga/events.js";
import { describeEachStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";

const planned: RunPlannedData = {
  pipeline: "t",
  source: { kind: "directory", path: "/nowhere" },
  repo: "acme/widgets",
  sha: "a".repeat(40),
  ref: "refs/heads/main",
  event: "manual",
  stages: [stage("build")],
};
const at = () => new Date().toISOString();

describeEachStore("run store appends", (store) => {
  it("lets one of two writers deciding from the same state append; the other fails, and the history has no gap", async () => {
    const db = await store.openMigrated();
    const a = new RunRepository(db, { owner: "a" });
    const b = new RunRepository(db, { owner: "a" });
    const created = await a.create("run-1", { type: "run.planned", data: planned }, at());
    const queued = { type: "stage.queued", data: { stageId: "build", attempt: 1 } } as const;
    const next = await a.append(created, [queued], at());
    await expect(b.append(created, [{ type: "run.cancel_requested", data: { reason: "late" } }], at())).rejects.toBeInstanceOf(ConcurrentAppendError);
    expect(next.seq).toBe(2);
    const { rows } = await db.query<{ seq: number; type: string }>("select seq, type from run_events where run_id = $1 order by seq", ["run-1"]);
    expect(rows).toEqual([
      { seq: 1, type: "run.planned" },
      { seq: 2, type: "stage.queued" },
    ]);
    const projected = await db.query<{ status: string; last_seq: number }>("select status, last_seq from runs where id = $1", ["run-1"]);
    expect(projected.rows).toEqual([{ status: "queued", last_seq: 2 }]);
    const stages = await db.query<{ status: string; attempt: number }>("select status, attempt from run_stages where run_id = $1", ["run-1"]);
    expect(stages.rows).toEqual([{ status: "queued", attempt: 1 }]);
  });

  it("fences out a writer whose run another process claimed, writing nothing; an external append still lands", async () => {
    const db = await store.openMigrated();
    const first = new RunRepository(db, { owner: "first", ownershipMs: 1 });
    const second = new RunRepository(db, { owner: "second" });
    const created = await first.create("run-2", { type: "run.planned", data: planned }, at());
    await new Promise((r) => setTimeout(r, 20));
    expect(await second.claimRuns()).toEqual(["run-2"]);
    await expect(first.append(created, [{ type: "stage.queued", data: { stageId: "build", attempt: 1 } }], at())).rejects.toBeInstanceOf(OwnershipLostError);
    expect((await db.query("select seq from run_events where run_id = $1", ["run-2"])).rows).toHaveLength(1);
    const cancelled = await first.append(created, [{ type: "run.cancel_requested", data: { reason: "from elsewhere" } }], at(), "external");
    expect(cancelled.seq).toBe(2);
    expect((await db.query<{ owner: string }>("select owner from runs where id = $1", ["run-2"])).rows).toEqual([{ owner: "second" }]);
  });

  it("stores the log chunks that come with an append, and none when the fence refuses it", async () => {
    const db = await store.openMigrated();
    const owner = new RunRepository(db, { owner: "owner", ownershipMs: 1 });
    const created = await owner.create("run-4", { type: "run.planned", data: planned }, at());
    const ref = { runId: "run-4", stageId: "build", attempt: 1 };
    const chunks = [
      { seq: 1, data: "$ make\n" },
      { seq: 2, data: "ünïcode ✓\n" },
    ];
    const next = await owner.append(created, [{ type: "stage.queued", data: { stageId: "build", attempt: 1 } }], at(), "owner", [{ ref, chunks }]);
    const stored = await db.query<{ seq: number; data: string }>("select seq, data from log_chunks where run_id = $1 order by seq", ["run-4"]);
    expect(stored.rows).toEqual(chunks);
    await new Promise((r) => setTimeout(r, 20));
    await new RunRepository(db, { owner: "other" }).claimRuns();
    const late = { ref, chunks: [{ seq: 3, data: "after the fence\n" }] };
    await expect(owner.append(next, [{ type: "run.cancel_requested", data: { reason: "x" } }], at(), "owner", [late])).rejects.toBeInstanceOf(OwnershipLostError);
    expect((await db.query("select seq from log_chunks where run_id = $1", ["run-4"])).rows).toHaveLength(2);
  });

  it("tells the other processes of an append to a run its writer does not own and of a claim, not of an owner's own appends", async () => {
    const db = await store.openMigrated();
    const owner = new RunRepository(db, { owner: "owner", ownershipMs: 300 });
    const other = new RunRepository(db, { owner: "other" });
    const heardByOwner: string[] = [];
    const heardByOther: string[] = [];
    const stopOwner = await owner.watchRuns((id) => heardByOwner.push(id));
    const stopOther = await other.watchRuns((id) => heardByOther.push(id));
    const hear = async (heard: string[], count: number) => {
      const deadline = Date.now() + 5_000;
      while (heard.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    };
    const created = await owner.create("run-3", { type: "run.planned", data: planned }, at());
    const queued = await owner.append(created, [{ type: "stage.queued", data: { stageId: "build", attempt: 1 } }], at());
    await other.append(queued, [{ type: "run.cancel_requested", data: { reason: "from the API of another process" } }], at(), "external");
    await hear(heardByOwner, 1);
    expect(heardByOwner).toEqual(["run-3"]);
    // The owner's own append before it reached no one (the other process would have heard it first).
    expect(heardByOther).toEqual([]);
    await new Promise((r) => setTimeout(r, 350));
    expect(await other.claimRuns()).toEqual(["run-3"]);
    const reloaded = (await other.load("run-3"))!;
    await other.append(reloaded, [{ type: "run.cancel_requested", data: { reason: "again, as its new owner" } }], at(), "claim");
    await hear(heardByOwner, 2);
    expect(heardByOwner).toEqual(["run-3", "run-3"]);
    expect(heardByOther).toEqual([]);
    await stopOwner();
    await stopOther();
  });
});
