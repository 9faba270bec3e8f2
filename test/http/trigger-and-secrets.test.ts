/** `POST /api/runs` (manual trigger) and `PUT /api/repos/:owner/:repo/secrets/:name`: validation, auth and status codes. */
import { beforeAll, describe, expect, it } from "vitest";
import { buildHttpApp } from "../../src/http/app.js";
import type { ManualTrigger } from "../../src/http/options.js";
import { SecretStore } from "../../src/secrets/secret-store.js";
import type { Database } from "../../src/store/database.js";
import { describeEachStore } from "../helpers/databases.js";
import { ADMIN_TOKEN, TEST_KEY, bearer } from "./server-fixture.js";

describeEachStore("HTTP manual trigger and secrets", (store) => {
  let db: Database;
  let app: ReturnType<typeof buildHttpApp>;
  const triggered: ManualTrigger[] = [];
  beforeAll(async () => {
    db = await store.openMigrated();
    app = buildHttpApp({
      db,
      webhookSecrets: {},
      adminToken: ADMIN_TOKEN,
      secrets: new SecretStore(db, TEST_KEY),
      triggerManual: (input) => {
        triggered.push(input);
        return Promise.resolve({ id: "run-123" });
      },
    });
  });

  describe("POST /api/runs", () => {
    const trigger = (payload: unknown, headers: Record<string, string> = bearer) =>
      app.inject({ method: "POST", url: "/api/runs", headers, payload: payload as Record<string, unknown> });

    it("201 {id} with a Location, handing repo, ref and sha to the trigger", async () => {
      const sha = "a".repeat(40);
      const res = await trigger({ repo: "file:///srv/git/acme/widgets.git", ref: "refs/heads/main", sha });
      expect(res.statusCode).toBe(201);
      expect(res.json()).toEqual({ id: "run-123" });
      expect(res.headers.location).toBe("/api/runs/run-123");
      expect(triggered.at(-1)).toEqual({ repo: "file:///srv/git/acme/widgets.git", ref: "refs/heads/main", sha });
    });

    it("400 {error} for a missing repo, a bad ref, a bad sha or an unknown key", async () => {
      for (const [payload, fragment] of [
        [{ ref: "refs/heads/main" }, "repo"],
        [{ repo: "r", ref: "main" }, "ref"],
        [{ repo: "r", ref: "refs/heads/main", sha: "xyz" }, "sha"],
        [{ repo: "r", ref: "refs/heads/main", extra: 1 }, "additional properties"],
      ] as const) {
        const res = await trigger(payload);
        expect(res.statusCode, JSON.stringify(payload)).toBe(400);
        expect(res.json<{ error: string }>().error).toContain(fragment);
      }
      const broken = await app.inject({ method: "POST", url: "/api/runs", headers: { ...bearer, "content-type": "application/json" }, payload: "{nope" });
      expect(broken.statusCode).toBe(400);
      expect(Object.keys(broken.json<object>())).toEqual(["error"]);
    });

    it("415 for a body that is not JSON, 413 for one over 64 KiB, 401 without the token", async () => {
      const text = await app.inject({ method: "POST", url: "/api/runs", headers: { ...bearer, "content-type": "application/xml" }, payload: "<repo/>" });
      expect(text.statusCode).toBe(415);
      expect(Object.keys(text.json<object>())).toEqual(["error"]);
      const big = await trigger({ repo: "x".repeat(70 * 1024), ref: "refs/heads/main" });
      expect(big.statusCode).toBe(413);
      expect(Object.keys(big.json<object>())).toEqual(["error"]);
      expect((await trigger({ repo: "r", ref: "refs/heads/main" }, {})).statusCode).toBe(401);
    });

    it("503 {error} when the server has no manual trigger configured", async () => {
      const bare = buildHttpApp({ db, webhookSecrets: {}, adminToken: ADMIN_TOKEN });
      const res = await bare.inject({ method: "POST", url: "/api/runs", headers: bearer, payload: { repo: "r", ref: "refs/heads/main" } });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ error: "manual triggers are not configured on this server" });
    });
  });

  describe("PUT /api/repos/:owner/:repo/secrets/:name", () => {
    const put = (url: string, payload: unknown, headers: Record<string, string> = bearer) =>
      app.inject({ method: "PUT", url, headers, payload: payload as Record<string, unknown> });

    it("204, stored sealed (the value appears nowhere in the row) and readable with the key", async () => {
      const value = "s3cr3t-value-for-npm";
      const res = await put("/api/repos/acme/widgets/secrets/NPM_TOKEN", { value });
      expect(res.statusCode).toBe(204);
      expect(res.body).toBe("");
      const { rows } = await db.query(`select * from repo_secrets where repo = 'acme/widgets'`);
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain(value);
      expect(JSON.stringify(rows)).not.toContain(Buffer.from(value).toString("base64"));
      expect(await new SecretStore(db, TEST_KEY).reveal("acme/widgets", ["NPM_TOKEN", "OTHER"])).toEqual({ NPM_TOKEN: value });
      // Replacing keeps one row.
      expect((await put("/api/repos/acme/widgets/secrets/NPM_TOKEN", { value: "v2" })).statusCode).toBe(204);
      expect(await new SecretStore(db, TEST_KEY).reveal("acme/widgets", ["NPM_TOKEN"])).toEqual({ NPM_TOKEN: "v2" });
    });

    it("400 {error} for a bad name, a missing or non-string value, an oversized value", async () => {
      for (const [url, payload, fragment] of [
        ["/api/repos/acme/widgets/secrets/bad-name", { value: "v" }, "secret name"],
        ["/api/repos/acme/widgets/secrets/OK", {}, "value"],
        ["/api/repos/acme/widgets/secrets/OK", { value: { nested: 1 } }, "value"],
        ["/api/repos/acme/widgets/secrets/OK", { value: "x".repeat(64 * 1024 + 1) }, "exceeds"],
        ["/api/repos/ac%20me/widgets/secrets/OK", { value: "v" }, "owner/name"],
      ] as const) {
        const res = await put(url, payload);
        expect(res.statusCode, url).toBe(400);
        expect(res.json<{ error: string }>().error).toContain(fragment);
      }
    });

    it("401 without the token, 413 for a huge body, 503 without a secret store", async () => {
      expect((await put("/api/repos/a/b/secrets/N", { value: "v" }, {})).statusCode).toBe(401);
      expect((await put("/api/repos/a/b/secrets/N", { value: "x".repeat(80 * 1024) })).statusCode).toBe(413);
      const bare = buildHttpApp({ db, webhookSecrets: {}, adminToken: ADMIN_TOKEN });
      const res = await bare.inject({ method: "PUT", url: "/api/repos/a/b/secrets/N", headers: bearer, payload: { value: "v" } });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ error: "secrets are not configured on this server" });
    });
  });
});
