/** Structured logs: JSON lines with run and stage ids as fields; never a token or a secret's value. */
import { Writable } from "node:stream";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createLogger, runEventLogger } from "../../src/observability/logger.js";
import { describeEachStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { ADMIN_TOKEN, bearer, startTestServer, type TestServer } from "./server-fixture.js";

describeEachStore("HTTP and run logs", (store) => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ level: "debug", destination: sink });
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(await store.create(), { logger });
    s.control.engine.subscribe(runEventLogger(logger));
  });
  afterAll(() => s?.stop());

  it("logs run events and API requests with runId and stageId fields", async () => {
    const id = await s.startRun([stage("build", { commands: ["exit 3"] })]);
    await s.control.engine.waitForRun(id);
    await s.app.inject({ method: "POST", url: `/api/runs/${id}/stages/build/rerun`, headers: bearer });
    await s.control.engine.waitForRun(id);
    expect(lines).toContainEqual(expect.objectContaining({ runId: id, msg: "run planned", repo: "acme/widgets" }));
    expect(lines).toContainEqual(expect.objectContaining({ runId: id, stageId: "build", msg: "stage failure", event: "stage.completed" }));
    expect(lines).toContainEqual(expect.objectContaining({ runId: id, msg: "run failure" }));
    expect(lines).toContainEqual(expect.objectContaining({ runId: id, stageId: "build", msg: "request completed" }));
  });

  it("never logs the bearer token or a secret's value", async () => {
    const value = "do-not-log-this-value-1234";
    const res = await s.app.inject({ method: "PUT", url: "/api/repos/acme/widgets/secrets/TOKEN", headers: bearer, payload: { value } });
    expect(res.statusCode).toBe(204);
    await s.app.inject({ method: "PUT", url: "/api/repos/acme/widgets/secrets/bad-name", headers: bearer, payload: { value } });
    const text = JSON.stringify(lines);
    expect(lines.some((l) => String(l.msg).includes("request completed"))).toBe(true);
    expect(text).not.toContain(value);
    expect(text).not.toContain(ADMIN_TOKEN);
  });
});
