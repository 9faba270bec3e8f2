/** The write side of the HTTP API (SPEC 3) against a control plane with real agents: auth, re-run, cancel, manual trigger, secrets. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHttpApp } from "../../src/http/app.js";
import type { Database } from "../../src/store/database.js";
import { describeEachStore } from "../helpers/databases.js";
import { stage } from "../saga/plan-stages.js";
import { bearer, startTestServer, type TestServer } from "./server-fixture.js";

interface RunBody {
  status: string;
  conclusion: string | null;
  stages: { id: string; status: string; conclusion: string | null; attempt: number; reason: string | null }[];
}

describeEachStore("HTTP write API", (store) => {
  let s: TestServer;
  let db: Database;
  beforeAll(async () => {
    s = await startTestServer(await store.create());
    db = s.control.db;
  });
  afterAll(() => s?.stop());

  const post = (url: string, headers: Record<string, string> = bearer) => s.app.inject({ method: "POST", url, headers });
  const run = async (id: string) => (await s.app.inject(`/api/runs/${id}`)).json<RunBody>();
  const waitUntil = async (id: string, ok: (r: RunBody) => boolean) => {
    for (let i = 0; i < 200; i++) {
      const r = await run(id);
      if (ok(r)) return r;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`run ${id} never reached the expected state: ${JSON.stringify(await run(id))}`);
  };

  describe("bearer auth", () => {
    it("401 without a token, 401 with a wrong one (both with WWW-Authenticate), each as {error}", async () => {
      const missing = await post("/api/runs/x/cancel", {});
      expect(missing.statusCode).toBe(401);
      expect(missing.json()).toEqual({ error: "missing bearer token: send Authorization: Bearer $HODEI_ADMIN_TOKEN" });
      expect(missing.headers["www-authenticate"]).toMatch(/^Bearer/);
      const wrong = await post("/api/runs/x/cancel", { authorization: "Bearer nope" });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.json()).toEqual({ error: "invalid bearer token" });
      const basic = await post("/api/runs/x/cancel", { authorization: "Basic dXNlcjpwdw==" });
      expect(basic.statusCode).toBe(401);
    });

    it("403 on every write when the server has no admin token, naming HODEI_ADMIN_TOKEN", async () => {
      const open = buildHttpApp({ db, webhookSecrets: {}, engine: s.control.engine, secrets: s.secrets });
      for (const [method, url] of [
        ["POST", "/api/runs/x/cancel"],
        ["POST", "/api/runs/x/rerun"],
        ["POST", "/api/runs/x/stages/a/rerun"],
        ["PUT", "/api/repos/a/b/secrets/N"],
      ] as const) {
        const res = await open.inject({ method, url, headers: bearer, payload: { value: "v" } });
        expect(res.statusCode, url).toBe(403);
        expect(res.json<{ error: string }>().error).toContain("HODEI_ADMIN_TOKEN");
      }
      const trigger = await open.inject({ method: "POST", url: "/api/runs", headers: bearer, payload: { repo: "r", ref: "refs/heads/main" } });
      expect(trigger.statusCode).toBe(403);
    });
  });

  describe("cancel", () => {
    it("202 cancels a running run; 409 once it has completed; 404 for an unknown run", async () => {
      const id = await s.startRun([stage("slow", { commands: ["sleep 30"] }), stage("after", { needs: ["slow"] })]);
      await waitUntil(id, (r) => r.stages[0]?.status === "in_progress");
      const res = await post(`/api/runs/${id}/cancel`);
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({ id });
      const final = await s.control.engine.waitForRun(id);
      expect(final.conclusion).toBe("cancelled");
      expect((await run(id)).stages[0]).toMatchObject({ conclusion: "cancelled", reason: expect.stringContaining("cancelled") as unknown });
      const again = await post(`/api/runs/${id}/cancel`);
      expect(again.statusCode).toBe(409);
      expect(again.json()).toEqual({ error: `run ${id} has already completed (cancelled)` });
      const missing = await post("/api/runs/no-such-run/cancel");
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toEqual({ error: "no run no-such-run" });
    });

    it("accepts Content-Type: application/json with an empty body, as many clients send it; malformed JSON is still 400", async () => {
      const id = await s.startRun([stage("slow", { commands: ["sleep 30"] })]);
      await waitUntil(id, (r) => r.stages[0]?.status === "in_progress");
      const json = { ...bearer, "content-type": "application/json" };
      const bad = await s.app.inject({ method: "POST", url: `/api/runs/${id}/cancel`, headers: json, payload: "{not json" });
      expect(bad.statusCode).toBe(400);
      expect(bad.json<{ error: string }>().error).toMatch(/JSON/i);
      const res = await s.app.inject({ method: "POST", url: `/api/runs/${id}/cancel`, headers: json, payload: "" });
      expect(res.statusCode).toBe(202);
      expect((await s.control.engine.waitForRun(id)).conclusion).toBe("cancelled");
      const rerun = await s.app.inject({ method: "POST", url: `/api/runs/${id}/stages/slow/rerun`, headers: json });
      expect(rerun.statusCode).toBe(202);
      await s.app.inject({ method: "POST", url: `/api/runs/${id}/cancel`, headers: json });
    });
  });

  describe("re-run", () => {
    it("409 while the run is still running, for the whole run, failed stages and one stage", async () => {
      const id = await s.startRun([stage("slow", { commands: ["sleep 30"] })]);
      for (const url of [`/api/runs/${id}/rerun`, `/api/runs/${id}/rerun?failed=1`, `/api/runs/${id}/stages/slow/rerun`]) {
        const res = await post(url);
        expect(res.statusCode, url).toBe(409);
        expect(res.json<{ error: string }>().error).toContain("still running");
      }
      await post(`/api/runs/${id}/cancel`);
      await s.control.engine.waitForRun(id);
    });

    it("?failed=1 re-runs the failed stage and its dependents (202), then 409 when nothing failed", async () => {
      const id = await s.startRun([
        stage("ok"),
        stage("flaky", { commands: ['test -f "$TMPDIR_MARK" || { touch "$TMPDIR_MARK"; exit 3; }'], env: { TMPDIR_MARK: `/tmp/hodei-mark-${Date.now()}-${Math.random()}` } }),
        stage("after", { needs: ["flaky"] }),
      ]);
      expect((await s.control.engine.waitForRun(id)).conclusion).toBe("failure");
      const res = await post(`/api/runs/${id}/rerun?failed=1`);
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({ id, stages: ["flaky", "after"] });
      const done = await waitUntil(id, (r) => r.status === "completed" && r.conclusion !== "failure");
      expect(done.conclusion).toBe("success");
      expect(done.stages.map((st) => [st.id, st.attempt])).toEqual([["ok", 1], ["flaky", 2], ["after", 1]]);
      const nothing = await post(`/api/runs/${id}/rerun?failed=1`);
      expect(nothing.statusCode).toBe(409);
      expect(nothing.json<{ error: string }>().error).toContain("no failed");
    });

    it("re-runs one stage (202) or the whole run (202); 404 for an unknown stage or run", async () => {
      const id = await s.startRun([stage("a"), stage("b", { needs: ["a"] }), stage("c")]);
      await s.control.engine.waitForRun(id);
      const one = await post(`/api/runs/${id}/stages/b/rerun`);
      expect(one.statusCode).toBe(202);
      expect(one.json()).toEqual({ id, stages: ["b"] });
      let r = await waitUntil(id, (x) => x.status === "completed" && x.stages[1]?.attempt === 2);
      expect(r.stages.map((st) => st.attempt)).toEqual([1, 2, 1]);

      const all = await post(`/api/runs/${id}/rerun`);
      expect(all.statusCode).toBe(202);
      expect(all.json()).toEqual({ id, stages: ["a", "b", "c"] });
      r = await waitUntil(id, (x) => x.status === "completed" && x.stages[0]?.attempt === 2);
      expect(r.stages.map((st) => st.attempt)).toEqual([2, 3, 2]);

      const unknownStage = await post(`/api/runs/${id}/stages/zzz/rerun`);
      expect(unknownStage.statusCode).toBe(404);
      expect(unknownStage.json()).toEqual({ error: `run ${id} has no stage "zzz"` });
      for (const url of ["/api/runs/nope/rerun", "/api/runs/nope/rerun?failed=1", "/api/runs/nope/stages/a/rerun"]) {
        const res = await post(url);
        expect(res.statusCode, url).toBe(404);
        expect(res.json()).toEqual({ error: "no run nope" });
      }
    });

    it("a matrix instance id is addressed URL-encoded", async () => {
      const id = await s.startRun([stage("test[node=20]", { name: "test", matrix: { node: "20" } })]);
      await s.control.engine.waitForRun(id);
      const res = await post(`/api/runs/${id}/stages/${encodeURIComponent("test[node=20]")}/rerun`);
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({ id, stages: ["test[node=20]"] });
      await waitUntil(id, (x) => x.status === "completed" && x.stages[0]?.attempt === 2);
    });
  });

  describe("writes without an engine", () => {
    it("503 {error} for re-run and cancel", async () => {
      const readOnly = buildHttpApp({ db, webhookSecrets: {}, adminToken: "t" });
      const res = await readOnly.inject({ method: "POST", url: "/api/runs/x/cancel", headers: { authorization: "Bearer t" } });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ error: "this server has no engine: runs cannot be changed" });
    });
  });
});
