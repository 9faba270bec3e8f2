/** Compensation after a crash: files of finished runs are removed at start, those of unfinished runs kept. */
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { expect, it } from "vitest";
import { sweepLeftovers } from "../../src/server/leftovers.js";
import { RunRepository } from "../../src/store/run-repository.js";
import { describeEachStore, tempDir } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";

describeEachStore("leftover sweep", (store) => {
  it("removes snapshots and checkouts no unfinished run needs, and keeps the ones that are needed", async () => {
    const db = await store.openMigrated();
    const dataDir = await tempDir();
    const dirs = {
      keptSource: path.join(dataDir, "sources", "kept"),
      goneSource: path.join(dataDir, "sources", "gone"),
      keptCheckout: path.join(dataDir, "checkouts", "run-unfinished"),
      goneCheckout: path.join(dataDir, "checkouts", "run-finished"),
    };
    for (const d of Object.values(dirs)) {
      await mkdir(d, { recursive: true });
      await writeFile(path.join(d, "file"), "x");
    }
    const repo = new RunRepository(db);
    const planned = (source: string) => ({
      type: "run.planned" as const,
      data: { pipeline: "p", source: { kind: "directory" as const, path: source }, repo: "a/b", sha: "s", ref: null, event: "manual" as const, stages: [stage("a")] },
    });
    await repo.create("run-unfinished", planned(dirs.keptSource), new Date().toISOString());
    const finished = await repo.create("run-finished", planned(dirs.goneSource), new Date().toISOString());
    await repo.append(finished, [{ type: "stage.completed", data: { stageId: "a", conclusion: "skipped", reason: "t" } }, { type: "run.completed", data: { conclusion: "success" } }], new Date().toISOString());

    const removed = await sweepLeftovers({ db, dataDir });
    expect(removed.sort()).toEqual([dirs.goneCheckout, dirs.goneSource].sort());
    expect(existsSync(dirs.keptSource)).toBe(true);
    expect(existsSync(dirs.keptCheckout)).toBe(true);
    expect(existsSync(dirs.goneSource)).toBe(false);
  });
});
