/** Log chunks of several attempts stored in one statement, as the engine's log writer batches them. */
import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import type { RunEvent } from "../../src/saga/events.js";
import { RunRepository } from "../../src/store/run-repository.js";
import { readStageLog } from "../../src/store/run-queries.js";
import { describeEachStore } from "../helpers/databases.js";

const history = JSON.parse(readFileSync(new URL("../fixtures/histories/failing.json", import.meta.url), "utf8")) as {
  runId: string;
  events: RunEvent[];
};

describeEachStore("appendLogBatch", (store) => {
  it("stores several attempts' chunks at once, keeping the first copy of a chunk sent twice", async () => {
    const db = await store.openMigrated();
    const repo = new RunRepository(db);
    const [first] = history.events;
    await repo.create(history.runId, first as Extract<RunEvent, { type: "run.planned" }>, first!.at);
    const build = { runId: history.runId, stageId: "build", attempt: 1 };
    const retry = { runId: history.runId, stageId: "build", attempt: 2 };
    await repo.appendLogs(build, [{ seq: 1, data: "first\n" }]);
    await repo.appendLogBatch([
      { ref: build, chunks: [{ seq: 1, data: "DUPLICATE\n" }, { seq: 2, data: "second\n" }] },
      { ref: retry, chunks: [{ seq: 1, data: "it's \"quoted\" \\ and ünïcode\n" }] },
      { ref: retry, chunks: [] },
    ]);
    const text = async (ref: typeof build) => (await readStageLog(db, ref)).chunks.map((c) => c.data).join("");
    expect(await text(build)).toBe("first\nsecond\n");
    expect(await text(retry)).toBe("it's \"quoted\" \\ and ünïcode\n");
    await repo.appendLogBatch([]);
  });
});
