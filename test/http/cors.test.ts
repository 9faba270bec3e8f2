/**
 * CORS (issue 17): none unless HODEI_CORS_ORIGINS lists origins; then only
 * `/api/` answers those origins (preflights included), never with
 * credentials, and never on webhooks, the dashboard or /healthz.
 */
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHttpApp } from "../../src/http/app.js";
import { ConfigError, loadServerConfig } from "../../src/server/config.js";
import type { Database } from "../../src/store/database.js";
import { openTestDatabase } from "../helpers/databases.js";

const ORIGIN = "https://ci.example.com";
let db: Database;
beforeAll(async () => {
  db = await openTestDatabase();
});
afterAll(async () => {
  await db?.close();
});

const app = (corsOrigins?: string[]): FastifyInstance => buildHttpApp({ db, webhookSecrets: {}, corsOrigins });

describe("CORS", () => {
  it("sends no CORS headers and answers no preflight when no origin is configured", async () => {
    const http = app();
    const read = await http.inject({ method: "GET", url: "/api/runs", headers: { origin: ORIGIN } });
    expect(read.statusCode).toBe(200);
    expect(read.headers["access-control-allow-origin"]).toBeUndefined();
    const preflight = await http.inject({ method: "OPTIONS", url: "/api/runs", headers: { origin: ORIGIN, "access-control-request-method": "GET" } });
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
    expect(preflight.statusCode).toBe(404);
    await http.close();
  });

  it("answers a listed origin on /api/ with its own origin, no credentials, and a preflight naming the methods and headers", async () => {
    const http = app([ORIGIN, "http://localhost:3000"]);
    const read = await http.inject({ method: "GET", url: "/api/runs", headers: { origin: ORIGIN } });
    expect(read.statusCode).toBe(200);
    expect(read.headers["access-control-allow-origin"]).toBe(ORIGIN);
    expect(read.headers["access-control-allow-credentials"]).toBeUndefined();
    expect(String(read.headers.vary)).toMatch(/origin/i);
    expect(read.headers["access-control-expose-headers"]).toContain("x-hodei-attempt");

    const preflight = await http.inject({
      method: "OPTIONS",
      url: "/api/runs/r1/rerun",
      headers: { origin: "http://localhost:3000", "access-control-request-method": "POST", "access-control-request-headers": "authorization" },
    });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers["access-control-allow-origin"]).toBe("http://localhost:3000");
    expect(preflight.headers["access-control-allow-methods"]).toContain("POST");
    expect(String(preflight.headers["access-control-allow-headers"]).toLowerCase()).toContain("authorization");
    expect(preflight.headers["access-control-allow-credentials"]).toBeUndefined();
    await http.close();
  });

  it("refuses an origin not listed, and never answers cross-origin outside /api/", async () => {
    const http = app([ORIGIN]);
    const other = await http.inject({ method: "GET", url: "/api/runs", headers: { origin: "https://evil.example.com" } });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    for (const url of ["/healthz", "/"]) {
      const r = await http.inject({ method: "GET", url, headers: { origin: ORIGIN } });
      expect(r.headers["access-control-allow-origin"], url).toBeUndefined();
    }
    const hook = await http.inject({ method: "OPTIONS", url: "/webhooks/github", headers: { origin: ORIGIN, "access-control-request-method": "POST" } });
    expect(hook.headers["access-control-allow-origin"]).toBeUndefined();
    await http.close();
  });

  it("HODEI_CORS_ORIGINS takes exact origins and names a wrong one", () => {
    expect(loadServerConfig({}).corsOrigins).toEqual([]);
    expect(loadServerConfig({ HODEI_CORS_ORIGINS: "https://ci.example.com, http://localhost:3000/" }).corsOrigins).toEqual([ORIGIN, "http://localhost:3000"]);
    for (const bad of ["*", "https://ci.example.com/app", "ftp://x.example.com", "ci.example.com"]) {
      let error: unknown;
      try {
        loadServerConfig({ HODEI_CORS_ORIGINS: bad });
      } catch (e) {
        error = e;
      }
      expect(error, bad).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).variable).toBe("HODEI_CORS_ORIGINS");
      expect((error as Error).message).toContain(JSON.stringify(bad));
    }
  });
});
