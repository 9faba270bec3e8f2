/** Live streams (SSE): a stage's log with ?follow=1, a run's state, every run; and the paged runs list, metrics and dashboard routes. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHttpApp } from "../../src/http/app.js";
import { describeEachStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { startTestServer, type TestServer } from "./server-fixture.js";
import { openSse } from "./sse-client.js";

/** The stage's output without the agent's `$ command` header lines. */
const output = (text: string) => text.split(/(?<=\n)/).filter((l) => !l.startsWith("$ ")).join("");

describeEachStore("HTTP streams, paging, metrics, dashboard", (store) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer(await store.create());
  });
  afterAll(() => s?.stop());

  describe("GET .../logs?follow=1", () => {
    it("streams lines while the stage runs, then `end` with the conclusion", async () => {
      const marker = `/tmp/hodei-go-${process.pid}-${Date.now()}`;
      const id = await s.startRun([stage("talk", { commands: [`echo one; while [ ! -f ${marker} ]; do sleep 0.05; done; echo two; exit 4`] })]);
      const log = await openSse(`${s.base}/api/runs/${id}/stages/talk/logs?follow=1`);
      expect(log.status).toBe(200);
      expect(log.contentType).toMatch(/^text\/event-stream/);
      // "one" arrives while the stage is still blocked: it is live, not read after the end.
      await log.waitFor((e) => e.event === "log" && JSON.stringify(e.data).includes("one"));
      expect(log.events.some((e) => e.event === "end")).toBe(false);
      await import("node:fs/promises").then((fs) => fs.writeFile(marker, ""));
      const end = await log.waitFor((e) => e.event === "end");
      expect(end.data).toEqual({ attempt: 1, status: "completed", conclusion: "failure" });
      await log.ended;
      const text = log.events.filter((e) => e.event === "log").map((e) => (e.data as { data: string }).data).join("");
      expect(output(text)).toBe("one\ntwo\n");
      const seqs = log.events.filter((e) => e.event === "log").map((e) => (e.data as { seq: number }).seq);
      expect(seqs).toEqual([...new Set(seqs)].sort((a, b) => a - b));
    });

    it("for a finished stage sends the stored log and ends at once; 404 {error} for an unknown stage", async () => {
      const id = await s.startRun([stage("done", { commands: ["printf 'a\\nb\\n'"] })]);
      await s.control.engine.waitForRun(id);
      const log = await openSse(`${s.base}/api/runs/${id}/stages/done/logs?follow=1`);
      await log.ended;
      expect(log.events[0]).toMatchObject({ event: "attempt", data: { attempt: 1 } });
      expect(log.events.filter((e) => e.event === "log").map((e) => (e.data as { data: string }).data).join("")).toMatch(/\na\nb\n$/);
      expect(log.events.at(-1)).toMatchObject({ event: "end", data: { conclusion: "success" } });
      const missing = await fetch(`${s.base}/api/runs/${id}/stages/nope/logs?follow=1`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ error: `run ${id} has no stage nope` });
      const bad = await fetch(`${s.base}/api/runs/${id}/stages/done/logs?attempt=0`);
      expect(bad.status).toBe(400);
    });

    it("?attempt=N reads an earlier attempt's text", async () => {
      const id = await s.startRun([stage("again", { commands: ['echo "attempt $HODEI_ATTEMPT"'] })]);
      await s.control.engine.waitForRun(id);
      await s.control.engine.rerun(id, { stages: ["again"] }, "test");
      await s.control.engine.waitForRun(id);
      const first = await fetch(`${s.base}/api/runs/${id}/stages/again/logs?attempt=1`);
      expect(first.headers.get("x-hodei-attempt")).toBe("1");
      expect(output(await first.text())).toBe("attempt 1\n");
      expect(output(await (await fetch(`${s.base}/api/runs/${id}/stages/again/logs`)).text())).toBe("attempt 2\n");
    });
  });

  describe("run state streams", () => {
    it("GET /api/runs/:id/events?follow=1 sends the run after every change until it completes", async () => {
      const id = await s.startRun([stage("a", { commands: ["sleep 0.3"] }), stage("b", { needs: ["a"] })]);
      const stream = await openSse(`${s.base}/api/runs/${id}/events?follow=1`);
      const done = await stream.waitFor((e) => e.event === "run" && (e.data as { status: string }).status === "completed");
      expect(done.data).toMatchObject({ id, conclusion: "success", stages: [{ id: "a", conclusion: "success" }, { id: "b", conclusion: "success" }] });
      const seen = stream.events.map((e) => (e.data as { stages?: { status: string }[] }).stages?.[0]?.status);
      expect(seen).toContain("in_progress");
      stream.close();
      const history = await fetch(`${s.base}/api/runs/${id}/events`);
      const { events } = (await history.json()) as { events: { seq: number; type: string }[] };
      expect(events[0]).toMatchObject({ seq: 1, type: "run.planned" });
      expect(events.at(-1)).toMatchObject({ type: "run.completed" });
      expect((await fetch(`${s.base}/api/runs/nope/events?follow=1`)).status).toBe(404);
      expect((await fetch(`${s.base}/api/runs/nope/events`)).status).toBe(404);
    });

    it("GET /api/events sends every run that changes", async () => {
      const stream = await openSse(`${s.base}/api/events`);
      const id = await s.startRun([stage("x")], "acme/other");
      await stream.waitFor((e) => e.event === "run" && (e.data as { id: string; status: string }).id === id && (e.data as { status: string }).status === "completed");
      stream.close();
    });
  });

  describe("GET /api/runs paging", () => {
    it("pages newest first with `next` cursors until null; filters by repo; 400 for a bad cursor", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await s.startRun([stage("p")], "acme/paged"));
      const seen: string[] = [];
      let url = `${s.base}/api/runs?repo=acme/paged&limit=2`;
      for (let page = 0; page < 5; page++) {
        const body = (await (await fetch(url)).json()) as { runs: { id: string; repo: string }[]; next: string | null };
        expect(body.runs.length).toBeLessThanOrEqual(2);
        seen.push(...body.runs.map((r) => r.id));
        if (!body.next) break;
        url = `${s.base}/api/runs?repo=acme/paged&limit=2&before=${body.next}`;
      }
      expect(seen).toEqual([...ids].reverse());
      const bad = await fetch(`${s.base}/api/runs?before=garbage`);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ error: "before must be a cursor from a previous page's `next`" });
      for (const id of ids) await s.control.engine.waitForRun(id);
    });
  });

  describe("GET /metrics", () => {
    it("counts runs and stages by conclusion, queue wait and duration, agents, log messages and webhook deliveries", async () => {
      const id = await s.startRun([stage("m1"), stage("m2", { commands: ["exit 1"] })], "acme/metrics");
      await s.control.engine.waitForRun(id);
      // No secret configured: the intake answers 503, counted as not_configured; a bad signature 401.
      expect((await fetch(`${s.base}/webhooks/gitea`, { method: "POST", body: "{}" })).status).toBe(503);
      const signed = buildHttpApp({ db: s.control.db, webhookSecrets: { github: "shh" } });
      const bad = await signed.inject({
        method: "POST",
        url: "/webhooks/github",
        headers: { "content-type": "application/json", "x-github-event": "push", "x-github-delivery": "d1", "x-hub-signature-256": `sha256=${"0".repeat(64)}` },
        payload: "{}",
      });
      expect(bad.statusCode).toBe(401);
      const res = await fetch(`${s.base}/metrics`);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
      const text = await res.text();
      expect(text).toMatch(/^hodei_runs_completed_total\{conclusion="failure"\} [1-9]/m);
      expect(text).toMatch(/^hodei_stages_completed_total\{conclusion="success"\} [1-9]/m);
      expect(text).toMatch(/^hodei_stage_queue_wait_seconds_count [1-9]/m);
      expect(text).toMatch(/^hodei_stage_duration_seconds_count\{outcome="failure"\} [1-9]/m);
      expect(text).toMatch(/^hodei_connected_agents 2$/m);
      // Each stage's log ("$ true" at least) came in log messages.
      expect(text).toMatch(/^hodei_agent_log_messages_total [1-9]/m);
      expect(text).toMatch(/^hodei_agent_log_bytes_total [1-9]/m);
      expect(text).toMatch(/^hodei_webhook_deliveries_total\{forge="gitea",outcome="not_configured"\} [1-9]/m);
      expect(text).toMatch(/^hodei_webhook_deliveries_total\{forge="github",outcome="bad_signature"\} [1-9]/m);
    });
  });

  describe("dashboard routes", () => {
    it("serves the page at /, /runs/:id and /runs/:id/stages/:stage, and its assets; unknown routes 404 {error}", async () => {
      for (const path of ["/", "/runs/abc", `/runs/abc/stages/${encodeURIComponent("test[node=20]")}`]) {
        const res = await fetch(`${s.base}${path}`);
        expect(res.status, path).toBe(200);
        expect(res.headers.get("content-type"), path).toMatch(/^text\/html/);
        expect(await res.text()).toContain("<title>Hodei");
      }
      const js = await fetch(`${s.base}/assets/app.js`);
      expect(js.status).toBe(200);
      expect(js.headers.get("content-type")).toMatch(/javascript/);
      const missing = await fetch(`${s.base}/nope`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ error: "no route GET /nope" });
    });
  });
});
