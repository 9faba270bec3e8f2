/**
 * A control plane with real local agents and the HTTP app with sign-in
 * through stand-in forges (test/forge/fake-oauth.ts), listening on
 * 127.0.0.1, and a browser-like client that follows the sign-in redirects by
 * hand and keeps the session cookie.
 */
import { mkdtemp, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { expect } from "vitest";
import type { AccessSettings } from "../../src/access/access-settings.js";
import { AuditLog } from "../../src/access/audit.js";
import { OAuthProvider, type ForgeName } from "../../src/access/oauth-provider.js";
import { RepoAccess } from "../../src/access/repo-access.js";
import { UserStore } from "../../src/access/user-store.js";
import { buildHttpApp, type HttpAppOptions } from "../../src/http/app.js";
import type { PlannedStage } from "../../src/pipeline-parser/types.js";
import { SecretStore } from "../../src/secrets/secret-store.js";
import { ControlPlane } from "../../src/server/control-plane.js";
import { FakeOAuth } from "../forge/fake-oauth.js";
import { ADMIN_TOKEN, TEST_KEY } from "../http/server-fixture.js";

export { ADMIN_TOKEN };
export const CLIENT = { clientId: "hodei-test-client", clientSecret: "hodei-test-secret" };

export interface AccessServer {
  control: ControlPlane;
  app: FastifyInstance;
  base: string;
  forges: Map<ForgeName, FakeOAuth>;
  access: AccessSettings;
  startRun(repo: string, stages: PlannedStage[]): Promise<string>;
  stop(): Promise<void>;
}

export async function startAccessServer(
  store: { databaseUrl?: string; dataDir: string },
  options: { forges?: ForgeName[]; publicRead?: boolean; rateLimit?: { max: number; timeWindowMs: number }; accessCacheMs?: number; extra?: Partial<HttpAppOptions> } = {},
): Promise<AccessServer> {
  const forges = new Map<ForgeName, FakeOAuth>();
  for (const forge of options.forges ?? ["github"]) forges.set(forge, await new FakeOAuth({ forge, ...CLIENT, maxPageSize: 2 }).start());
  const control = await ControlPlane.start({ ...store, localAgents: 2, leaseMs: 3000 });
  const providers = new Map<ForgeName, OAuthProvider>();
  for (const [forge, fake] of forges) providers.set(forge, new OAuthProvider({ forge, ...CLIENT, webUrl: fake.url, apiUrl: fake.apiUrl }));
  const users = new UserStore(control.db, TEST_KEY);
  const access: AccessSettings = {
    users,
    repoAccess: new RepoAccess(users, providers, options.accessCacheMs ?? 60_000),
    audit: new AuditLog(control.db),
    providers,
    publicRead: options.publicRead ?? false,
    publicUrl: "http://127.0.0.1:0",
    rateLimit: options.rateLimit,
  };
  const app = buildHttpApp({
    db: control.db,
    webhookSecrets: {},
    engine: control.engine,
    adminToken: ADMIN_TOKEN,
    secrets: new SecretStore(control.db, TEST_KEY),
    heartbeatMs: 500,
    access,
    ...options.extra,
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  const base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  access.publicUrl = base;
  const source = await mkdtemp(path.join(os.tmpdir(), "hodei-access-src-"));
  await writeFile(path.join(source, "hello.txt"), "hello\n");
  return {
    control,
    app,
    base,
    forges,
    access,
    startRun: (repo, stages) =>
      control.engine.startRun({ pipeline: "ci", source: { kind: "directory", path: source }, repo, sha: "c0ffee".padEnd(40, "0"), ref: "refs/heads/main", event: "push", stages }),
    async stop() {
      await app.close();
      await control.stop();
      for (const f of forges.values()) await f.stop();
    },
  };
}

/** A person with a browser: follows redirects by hand, keeps the session cookie, sends the CSRF token on writes once known. */
export class Browser {
  cookie: string | null = null;
  csrf: string | null = null;
  /** The sign-in attempt's cookie, between the login and the callback. */
  private attempt: string | null = null;
  constructor(private readonly base: string) {}

  /** Signs in through `fake` as `login`: Hodei's login → forge authorise → Hodei's callback → the page. Returns the redirects seen. */
  async signIn(fake: FakeOAuth, forge: ForgeName, login: string, returnTo = "/"): Promise<string[]> {
    fake.signInAs = login;
    const seen: string[] = [];
    let url = `${this.base}/auth/${forge}/login?return_to=${encodeURIComponent(returnTo)}`;
    for (let hop = 0; hop < 5; hop++) {
      const jar = [this.cookie, this.attempt].filter(Boolean).join("; ");
      const res = await fetch(url, { redirect: "manual", headers: jar && url.startsWith(this.base) ? { cookie: jar } : {} });
      const setCookie = res.headers.getSetCookie().find((c) => c.startsWith("hodei_session="));
      if (setCookie) this.cookie = setCookie.split(";")[0]!;
      const attempt = res.headers.getSetCookie().find((c) => c.startsWith("hodei_sign_in="));
      if (attempt) this.attempt = /^hodei_sign_in=;/.test(attempt) ? null : attempt.split(";")[0]!;
      const location = res.headers.get("location");
      if (res.status !== 302 || !location) {
        expect(res.status, `${url}: ${await res.text()}`).toBe(200);
        break;
      }
      seen.push(location);
      url = new URL(location, url).toString();
      if (url.startsWith(this.base) && !url.includes("/auth/")) break;
    }
    const me = await this.fetch("/api/me");
    if (me.status === 200) this.csrf = ((await me.json()) as { csrfToken: string }).csrfToken;
    return seen;
  }

  fetch(pathname: string, init: { method?: string; body?: unknown; csrf?: boolean; headers?: Record<string, string> } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...init.headers };
    if (this.cookie) headers.cookie = this.cookie;
    if (init.csrf !== false && this.csrf && init.method && init.method !== "GET") headers["x-hodei-csrf"] = this.csrf;
    if (init.body !== undefined) headers["content-type"] = "application/json";
    return fetch(`${this.base}${pathname}`, { method: init.method ?? "GET", headers, body: init.body === undefined ? undefined : JSON.stringify(init.body), redirect: "manual" });
  }
}
