/**
 * Issue 17 end to end over real HTTP: signing in through a stand-in GitHub
 * and Gitea (OAuth with state and PKCE, the forges' API answers checked
 * against their published descriptions), reads restricted to what the forge
 * lets each person read (no existence leak, no forge call per run), writes
 * with the person's own permission asked at that moment, personal tokens,
 * CSRF, the audit trail and the run history naming who did it.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { ForgeName } from "../../src/access/oauth-provider.js";
import { describeEachStore } from "../helpers/databases.js";
import { runHodei } from "../helpers/hodei-cli.js";
import type { FakeOAuth } from "../forge/fake-oauth.js";
import { openSse } from "../http/sse-client.js";
import { stage } from "../saga/plan-stages.js";
import { ADMIN_TOKEN, Browser, startAccessServer, type AccessServer } from "./access-fixture.js";

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

function addPeople(github: FakeOAuth, gitea: FakeOAuth): void {
  github.addUser({
    id: 1,
    login: "octocat",
    name: "The Octocat",
    repos: [
      { repo: "acme/widgets", private: true, permission: "write" },
      { repo: "acme/public-lib", private: false, permission: "read" },
      { repo: "acme/docs", private: true, permission: "read" },
      { repo: "acme/ops", private: true, permission: "admin" },
      { repo: "octocat/dotfiles", private: false, permission: "admin" },
    ],
  });
  github.addUser({ id: 2, login: "mallory", name: "Mallory", repos: [{ repo: "mallory/tools", private: false, permission: "admin" }] });
  gitea.addUser({ id: 7, login: "gitty", name: "Gitty", repos: [{ repo: "acme/hidden", private: true, permission: "write" }] });
}

describeEachStore("signing in and access per repository", (store) => {
  let s: AccessServer;
  let github: FakeOAuth;
  let gitea: FakeOAuth;
  const runs: Record<string, string> = {};

  beforeAll(async () => {
    s = await startAccessServer(await store.create(), { forges: ["github", "gitea"] });
    github = s.forges.get("github")!;
    gitea = s.forges.get("gitea")!;
    addPeople(github, gitea);
    for (const repo of ["acme/widgets", "acme/public-lib", "acme/hidden"]) {
      runs[repo] = await s.startRun(repo, [stage("a", { commands: ["echo hello from a"] })]);
      await s.control.engine.waitForRun(runs[repo]);
    }
  });
  afterAll(async () => {
    expect(github?.violations ?? []).toEqual([]);
    expect(gitea?.violations ?? []).toEqual([]);
    await s?.stop();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${s.base}${path}`, { headers });

  it("signs in through the forge with state and PKCE and sets an HttpOnly, SameSite=Lax session cookie", async () => {
    const browser = new Browser(s.base);
    const hops = await browser.signIn(github, "github", "octocat", "/runs/x");
    const authorize = new URL(hops[0]!);
    expect(authorize.origin + authorize.pathname).toBe(`${github.url}/login/oauth/authorize`);
    expect(Object.fromEntries(authorize.searchParams)).toMatchObject({
      client_id: "hodei-test-client",
      redirect_uri: `${s.base}/auth/github/callback`,
      response_type: "code",
      code_challenge_method: "S256",
      state: expect.stringMatching(/^[\w-]{40,}$/) as unknown,
      code_challenge: expect.stringMatching(/^[\w-]{43}$/) as unknown,
    });
    const callbackHop = new URL(hops[1]!);
    expect(callbackHop.origin + callbackHop.pathname).toBe(`${s.base}/auth/github/callback`);
    expect(callbackHop.searchParams.get("code")).toBeTruthy();
    expect(callbackHop.searchParams.get("state")).toBe(authorize.searchParams.get("state"));
    expect(hops[2]).toBe("/runs/x");
    expect(browser.cookie).toMatch(/^hodei_session=hds_/);

    // The cookie's attributes, from a second sign-in's Set-Cookie.
    github.signInAs = "octocat";
    const login = await fetch(`${s.base}/auth/github/login`, { redirect: "manual" });
    const attemptCookie = login.headers.getSetCookie().find((c) => c.startsWith("hodei_sign_in="))!;
    expect(attemptCookie).toMatch(/; HttpOnly/i);
    const withAttempt = { cookie: attemptCookie.split(";")[0]! };
    const authorized = await fetch(login.headers.get("location")!, { redirect: "manual" });
    // The callback in another browser (without the attempt's cookie) is refused: no login CSRF.
    const elsewhere = await fetch(authorized.headers.get("location")!, { redirect: "manual" });
    expect(elsewhere.status).toBe(400);
    expect(((await elsewhere.json()) as { error: string }).error).toBe("this sign-in was started in another browser: start again at /auth/github/login");
    const callback = await fetch(authorized.headers.get("location")!, { redirect: "manual", headers: withAttempt });
    expect(callback.status).toBe(302);
    const setCookie = callback.headers.getSetCookie().find((c) => c.startsWith("hodei_session="))!;
    expect(setCookie).toMatch(/; HttpOnly/i);
    expect(setCookie).toMatch(/; SameSite=Lax/i);
    expect(setCookie).toMatch(/; Path=\//i);
    expect(setCookie).toMatch(/; Expires=/i);
    expect(setCookie).not.toMatch(/; Secure/i); // http public URL
    // The same callback again: the attempt was used up.
    const replay = await fetch(authorized.headers.get("location")!, { redirect: "manual", headers: withAttempt });
    expect(replay.status).toBe(400);
    expect(await replay.json()).toEqual({ error: "this sign-in is unknown, used or expired: start again at /auth/github/login" });

    const me = await browser.fetch("/api/me");
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ kind: "user", via: "session", user: { forge: "github", login: "octocat", name: "The Octocat" }, csrfToken: expect.any(String) as unknown });
    // One listing, followed over its pages (the stand-in answers 2 per page).
    expect(github.apiCalls.filter((c) => c.startsWith("GET /user/repos"))).toContain("GET /user/repos?per_page=100&page=3");

    // The store keeps neither the session secret nor the forge token in clear.
    const secret = browser.cookie!.split("=")[1]!;
    const dump = JSON.stringify((await s.control.db.query(`select * from users`)).rows) + JSON.stringify((await s.control.db.query(`select encode(id_hash, 'hex') as h from user_sessions`)).rows);
    expect(dump).not.toContain(secret);
    expect(dump).not.toContain("fake_");
  });

  it("a denied authorisation and an unknown forge are refused with the reason", async () => {
    github.authorize = "deny";
    try {
      const login = await fetch(`${s.base}/auth/github/login`, { redirect: "manual" });
      const cookie = login.headers.getSetCookie().find((c) => c.startsWith("hodei_sign_in="))!.split(";")[0]!;
      const authorized = await fetch(login.headers.get("location")!, { redirect: "manual" });
      const callback = await fetch(authorized.headers.get("location")!, { redirect: "manual", headers: { cookie } });
      expect(callback.status).toBe(400);
      expect(((await callback.json()) as { error: string }).error).toBe("sign-in with github failed: access_denied: The user has denied your application access.");
    } finally {
      github.authorize = "grant";
    }
    const unknown = await fetch(`${s.base}/auth/gitlab/login`, { redirect: "manual" });
    expect(unknown.status).toBe(404);
  });

  it("anonymous requests to every read endpoint and stream are refused with 401, for unknown runs alike", async () => {
    const id = runs["acme/widgets"]!;
    for (const path of [
      "/api/runs",
      `/api/runs/${id}`,
      `/api/runs/${id}/events`,
      `/api/runs/${id}/events?follow=1`,
      `/api/runs/${id}/stages/a/logs`,
      `/api/runs/${id}/stages/a/logs?follow=1`,
      "/api/events",
      "/api/runs/no-such-run",
      "/api/runs/no-such-run/stages/a/logs",
      "/api/me",
      "/api/tokens",
    ]) {
      const res = await get(path);
      expect(res.status, path).toBe(401);
      expect(res.headers.get("www-authenticate"), path).toMatch(/^Bearer/);
      expect(res.headers.get("content-type"), path).toMatch(/application\/json/);
    }
  });

  it("a user sees only the repositories the forge lets them read: 404 like an unknown run for the others, never in lists or streams", async () => {
    const browser = new Browser(s.base);
    await browser.signIn(github, "github", "octocat");
    const listed = (await (await browser.fetch("/api/runs")).json()) as { runs: { repo: string }[] };
    expect(listed.runs.map((r) => r.repo).sort()).toEqual(["acme/public-lib", "acme/widgets"]);
    const filtered = (await (await browser.fetch("/api/runs?repo=acme/hidden")).json()) as { runs: unknown[] };
    expect(filtered.runs).toEqual([]);

    const hidden = runs["acme/hidden"]!;
    for (const path of [`/api/runs/${hidden}`, `/api/runs/${hidden}/events`, `/api/runs/${hidden}/events?follow=1`, `/api/runs/${hidden}/stages/a/logs`, `/api/runs/${hidden}/stages/a/logs?follow=1`]) {
      const res = await browser.fetch(path);
      expect(res.status, path).toBe(404);
      expect(await res.json(), path).toEqual({ error: `no run ${hidden}` });
    }
    // The run says what the viewer may do there (from the cached listing).
    expect(((await (await browser.fetch(`/api/runs/${runs["acme/widgets"]!}`)).json()) as { viewer: unknown }).viewer).toEqual({ canWrite: true, canSetSecrets: false });
    expect(((await (await browser.fetch(`/api/runs/${runs["acme/public-lib"]!}`)).json()) as { viewer: unknown }).viewer).toEqual({ canWrite: false, canSetSecrets: false });
    const readable = await browser.fetch(`/api/runs/${runs["acme/widgets"]!}/stages/a/logs`);
    expect(readable.status).toBe(200);
    expect(await readable.text()).toContain("hello from a");

    // Listing again and reading runs asks the forge nothing (the listing is cached).
    const calls = github.apiCalls.length;
    for (let i = 0; i < 3; i++) await browser.fetch("/api/runs");
    await browser.fetch(`/api/runs/${runs["acme/widgets"]!}`);
    expect(github.apiCalls.length).toBe(calls);

    // The live stream: octocat's shows the widgets run, never the hidden one; the admin's shows both.
    const mine = await openSse(`${s.base}/api/events`, { cookie: browser.cookie! });
    const all = await openSse(`${s.base}/api/events`, admin);
    try {
      expect(mine.status).toBe(200);
      const hiddenAgain = await s.startRun("acme/hidden", [stage("a")]);
      const widgetsAgain = await s.startRun("acme/widgets", [stage("a")]);
      await s.control.engine.waitForRun(hiddenAgain);
      await s.control.engine.waitForRun(widgetsAgain);
      const isDone = (id: string) => (e: { event: string; data: unknown }) => e.event === "run" && (e.data as { id: string; status: string }).id === id && (e.data as { status: string }).status === "completed";
      await all.waitFor(isDone(hiddenAgain));
      await all.waitFor(isDone(widgetsAgain));
      await mine.waitFor(isDone(widgetsAgain));
      expect(mine.events.filter((e) => e.event === "run").map((e) => (e.data as { repo: string }).repo)).not.toContain("acme/hidden");
    } finally {
      mine.close();
      all.close();
    }

    // A Gitea user with the same repository name cannot read runs a GitHub delivery started.
    await s.control.db.query(`insert into forge_runs (run_id, forge, repo, head_sha, created_at) values ($1, 'github', 'acme/hidden', $2, now())`, [hidden, "c0ffee".padEnd(40, "0")]);
    const gitty = new Browser(s.base);
    await gitty.signIn(gitea, "gitea", "gitty");
    expect(((await (await gitty.fetch("/api/me")).json()) as { user: { forge: ForgeName } }).user.forge).toBe("gitea");
    expect((await gitty.fetch(`/api/runs/${hidden}`)).status).toBe(404);
    const giteaRuns = (await (await gitty.fetch("/api/runs")).json()) as { runs: { id: string; repo: string }[] };
    expect(giteaRuns.runs.map((r) => r.id)).not.toContain(hidden);
    expect(giteaRuns.runs.map((r) => r.repo)).toContain("acme/hidden"); // the second, forge-less run
  });

  it("a reader is refused re-run, cancel, approve and secrets with 403 and the reason; the writer's re-run is named in the run's history and the audit log", async () => {
    const browser = new Browser(s.base);
    await browser.signIn(github, "github", "octocat");
    const pub = runs["acme/public-lib"]!;
    for (const path of [`/api/runs/${pub}/rerun`, `/api/runs/${pub}/rerun?failed=1`, `/api/runs/${pub}/stages/a/rerun`]) {
      const res = await browser.fetch(path, { method: "POST" });
      expect(res.status, path).toBe(403);
      expect(await res.json()).toEqual({ error: "octocat may not re-run runs of acme/public-lib: that needs write permission on github, where octocat has read" });
    }
    const cancel = await browser.fetch(`/api/runs/${pub}/cancel`, { method: "POST" });
    expect(cancel.status).toBe(403);
    expect(((await cancel.json()) as { error: string }).error).toBe("octocat may not cancel runs of acme/public-lib: that needs write permission on github, where octocat has read");
    const approve = await browser.fetch(`/api/runs/${pub}/approve`, { method: "POST" });
    expect(approve.status).toBe(403);
    expect(((await approve.json()) as { error: string }).error).toBe("octocat may not approve fork stages of acme/public-lib: that needs write permission on github, where octocat has read");
    const secret = await browser.fetch("/api/repos/acme/widgets/secrets/NPM_TOKEN", { method: "PUT", body: { value: "s3cret" } });
    expect(secret.status).toBe(403);
    expect(((await secret.json()) as { error: string }).error).toBe("octocat may not set secrets of acme/widgets: that needs admin permission on github, where octocat has write");
    // Not readable at all: 404 as for an unknown run.
    expect((await browser.fetch(`/api/runs/${runs["acme/hidden"]!}/rerun`, { method: "POST" })).status).toBe(404);

    // Write on acme/widgets: the re-run goes through, the history names octocat.
    const id = runs["acme/widgets"]!;
    const noCsrf = await browser.fetch(`/api/runs/${id}/rerun`, { method: "POST", csrf: false });
    expect(noCsrf.status).toBe(403);
    expect(((await noCsrf.json()) as { error: string }).error).toContain("x-hodei-csrf");
    const rerun = await browser.fetch(`/api/runs/${id}/rerun`, { method: "POST" });
    expect(rerun.status).toBe(202);
    await s.control.engine.waitForRun(id);
    const events = (await (await browser.fetch(`/api/runs/${id}/events`)).json()) as { events: { type: string; data: { reason?: string } }[] };
    expect(JSON.stringify(events.events)).toContain("re-run requested by octocat through the API");

    // Admin on acme/ops: secrets may be set.
    const ops = await browser.fetch("/api/repos/acme/ops/secrets/DEPLOY_KEY", { method: "PUT", body: { value: "k" } });
    expect(ops.status).toBe(204);

    // Write taken away on the forge: the next write is refused at once, whatever the cache says.
    github.setPermission("octocat", "acme/widgets", "read");
    try {
      const again = await browser.fetch(`/api/runs/${id}/rerun`, { method: "POST" });
      expect(again.status).toBe(403);
    } finally {
      github.setPermission("octocat", "acme/widgets", "write");
    }

    const audit = (await (await get("/api/audit", admin)).json()) as { entries: { actor: string; action: string; runId: string | null; repo: string | null; ip: string | null; detail: Record<string, unknown> }[] };
    expect(audit.entries).toContainEqual(expect.objectContaining({ actor: "octocat", action: "run.rerun", runId: id, repo: "acme/widgets", ip: "127.0.0.1" }));
    expect(audit.entries).toContainEqual(expect.objectContaining({ actor: "octocat", action: "secret.set", repo: "acme/ops", detail: { name: "DEPLOY_KEY" } }));
    expect(audit.entries).toContainEqual(expect.objectContaining({ actor: "octocat", action: "sign_in" }));
    expect(JSON.stringify(audit.entries)).not.toContain('"k"');
    // The audit trail is the admin's only.
    expect((await browser.fetch("/api/audit")).status).toBe(403);
    expect((await get("/api/audit")).status).toBe(401);
  });

  it("a writer cancels a running run; the history says who", async () => {
    const browser = new Browser(s.base);
    await browser.signIn(github, "github", "octocat");
    const id = await s.startRun("acme/widgets", [stage("slow", { commands: ["sleep 30"] })]);
    const res = await browser.fetch(`/api/runs/${id}/cancel`, { method: "POST" });
    expect(res.status).toBe(202);
    expect((await s.control.engine.waitForRun(id)).conclusion).toBe("cancelled");
    const events = (await (await browser.fetch(`/api/runs/${id}/events`)).json()) as { events: unknown[] };
    expect(JSON.stringify(events.events)).toContain("cancelled by octocat through the API");
  });

  it("personal tokens: created by the signed-in user and shown once, act as the user without CSRF, refused (401) once revoked", async () => {
    const browser = new Browser(s.base);
    await browser.signIn(github, "github", "octocat");
    const created = await browser.fetch("/api/tokens", { method: "POST", body: { description: "laptop" } });
    expect(created.status).toBe(201);
    const { id, token } = (await created.json()) as { id: string; token: string };
    expect(token).toMatch(/^hdp_/);
    const listed = (await (await browser.fetch("/api/tokens")).json()) as { tokens: Record<string, unknown>[] };
    expect(listed.tokens).toEqual([expect.objectContaining({ id, description: "laptop", revokedAt: null })]);
    expect(JSON.stringify(listed)).not.toContain(token);
    const stored = JSON.stringify((await s.control.db.query(`select id, description, encode(token_hash, 'base64') as h from user_tokens`)).rows);
    expect(stored).not.toContain(token.slice(4));

    const bearer = { authorization: `Bearer ${token}` };
    const list = (await (await get("/api/runs", bearer)).json()) as { runs: { repo: string }[] };
    expect(new Set(list.runs.map((r) => r.repo))).toEqual(new Set(["acme/public-lib", "acme/widgets"]));
    const me = (await (await get("/api/me", bearer)).json()) as { via: string; csrfToken: string | null };
    expect(me).toMatchObject({ via: "token", csrfToken: null });
    // Operator endpoints stay the admin token's.
    for (const [method, path] of [["POST", "/api/runs"], ["GET", "/api/agent-tokens"], ["GET", "/api/audit"]] as const) {
      const res = await fetch(`${s.base}${path}`, { method, headers: { ...bearer, "content-type": "application/json" }, body: method === "POST" ? JSON.stringify({ repo: "https://x.invalid/a/b", ref: "refs/heads/main" }) : undefined });
      expect(res.status, path).toBe(403);
      expect(((await res.json()) as { error: string }).error, path).toBe("octocat is not an administrator of this server: this endpoint takes the admin token");
    }
    const rerun = await fetch(`${s.base}/api/runs/${runs["acme/widgets"]!}/stages/a/rerun`, { method: "POST", headers: bearer });
    expect(rerun.status).toBe(202);
    await s.control.engine.waitForRun(runs["acme/widgets"]!);

    // The CLI reads with it too (HODEI_TOKEN), and says which variables it looked for without one.
    const cli = (env: NodeJS.ProcessEnv) => runHodei(["runs", "--json", "--server", s.base], { env: { HODEI_ADMIN_TOKEN: "", HODEI_TOKEN: "", ...env } });
    const cliRuns = await cli({ HODEI_TOKEN: token });
    expect(cliRuns.code, cliRuns.stderr).toBe(0);
    expect(new Set((JSON.parse(cliRuns.stdout) as { runs: { repo: string }[] }).runs.map((r) => r.repo))).toEqual(new Set(["acme/public-lib", "acme/widgets"]));
    const cliAnonymous = await cli({});
    expect(cliAnonymous.code).toBe(1);
    expect(cliAnonymous.stderr).toContain("neither HODEI_TOKEN (a personal token, from POST /api/tokens when signed in) nor HODEI_ADMIN_TOKEN is set");

    // Another user cannot revoke it; a cookie without CSRF cannot either.
    const mallory = new Browser(s.base);
    await mallory.signIn(github, "github", "mallory");
    expect((await mallory.fetch(`/api/tokens/${id}`, { method: "DELETE" })).status).toBe(404);
    expect((await browser.fetch(`/api/tokens/${id}`, { method: "DELETE", csrf: false })).status).toBe(403);
    expect((await browser.fetch(`/api/tokens/${id}`, { method: "DELETE" })).status).toBe(204);
    const refused = await get("/api/runs", bearer);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({ error: "invalid bearer token (unknown, revoked or expired)" });
    const cliRevoked = await cli({ HODEI_TOKEN: token });
    expect(cliRevoked.code).toBe(1);
    expect(cliRevoked.stderr).toBe("hodei: invalid bearer token (unknown, revoked or expired)\n");

    const actions = ((await (await get("/api/audit", admin)).json()) as { entries: { actor: string; action: string }[] }).entries.filter((e) => e.actor === "octocat").map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["token.create", "token.revoke"]));
  });

  it("signing out ends the session: the cookie no longer reads anything", async () => {
    const browser = new Browser(s.base);
    await browser.signIn(github, "github", "octocat");
    expect((await browser.fetch("/api/runs")).status).toBe(200);
    expect((await browser.fetch("/auth/logout", { method: "POST", csrf: false })).status).toBe(403);
    expect((await browser.fetch("/auth/logout", { method: "POST" })).status).toBe(204);
    expect((await browser.fetch("/api/runs")).status).toBe(401);
  });

  it("a forge token revoked on the forge: the next write asks to sign in again (401)", async () => {
    const browser = new Browser(s.base);
    await browser.signIn(github, "github", "octocat");
    github.revokeTokens("octocat");
    const res = await browser.fetch(`/api/runs/${runs["acme/widgets"]!}/rerun`, { method: "POST" });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: "github no longer accepts the sign-in of octocat: sign in again" });
  });

  it("the admin token keeps full access", async () => {
    const list = (await (await get("/api/runs", admin)).json()) as { runs: { repo: string }[] };
    expect(new Set(list.runs.map((r) => r.repo))).toEqual(new Set(["acme/widgets", "acme/public-lib", "acme/hidden"]));
    expect((await get(`/api/runs/${runs["acme/hidden"]!}`, admin)).status).toBe(200);
  });
});

describeEachStore("public reading and rate limits", (store) => {
  let s: AccessServer;
  let github: FakeOAuth;
  const runs: Record<string, string> = {};

  beforeAll(async () => {
    s = await startAccessServer(await store.create(), { forges: ["github"], publicRead: true, rateLimit: { max: 4, timeWindowMs: 60_000 } });
    github = s.forges.get("github")!;
    github.addUser({ id: 1, login: "octocat", name: "The Octocat", repos: [{ repo: "acme/public-lib", private: false, permission: "read" }, { repo: "acme/widgets", private: true, permission: "write" }] });
    for (const repo of ["acme/widgets", "acme/public-lib", "acme/unknown"]) {
      runs[repo] = await s.startRun(repo, [stage("a", { commands: ["echo hi"] })]);
      await s.control.engine.waitForRun(runs[repo]);
    }
    // Someone's sign-in tells Hodei which repositories are public.
    await new Browser(s.base).signIn(github, "github", "octocat");
  });
  afterAll(async () => {
    expect(github?.violations ?? []).toEqual([]);
    await s?.stop();
  });

  it("with HODEI_PUBLIC_READ anonymous callers read public repositories only; private and unknown ones answer 401", async () => {
    const list = (await (await fetch(`${s.base}/api/runs`)).json()) as { runs: { repo: string }[] };
    expect(list.runs.map((r) => r.repo)).toEqual(["acme/public-lib"]);
    expect((await fetch(`${s.base}/api/runs/${runs["acme/public-lib"]!}`)).status).toBe(200);
    expect(await (await fetch(`${s.base}/api/runs/${runs["acme/public-lib"]!}/stages/a/logs`)).text()).toContain("hi");
    for (const repo of ["acme/widgets", "acme/unknown"]) {
      for (const path of [`/api/runs/${runs[repo]!}`, `/api/runs/${runs[repo]!}/stages/a/logs`, `/api/runs/${runs[repo]!}/events`]) {
        expect((await fetch(`${s.base}${path}`)).status, path).toBe(401);
      }
    }
    // Writes still need someone.
    expect((await fetch(`${s.base}/api/runs/${runs["acme/public-lib"]!}/rerun`, { method: "POST" })).status).toBe(401);

    const stream = await openSse(`${s.base}/api/events`);
    try {
      const priv = await s.startRun("acme/widgets", [stage("a")]);
      const pub = await s.startRun("acme/public-lib", [stage("a")]);
      await s.control.engine.waitForRun(priv);
      await s.control.engine.waitForRun(pub);
      await stream.waitFor((e) => e.event === "run" && (e.data as { id: string; status: string }).id === pub && (e.data as { status: string }).status === "completed");
      expect(stream.events.filter((e) => e.event === "run").map((e) => (e.data as { repo: string }).repo)).not.toContain("acme/widgets");
    } finally {
      stream.close();
    }
  });

  it("the sign-in and token endpoints answer 429 past the rate limit", async () => {
    // The sign-in in beforeAll used one of the four.
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${s.base}/auth/github/login`, { redirect: "manual" })).status);
    expect(statuses).toEqual([302, 302, 302, 429]);
    const statusesTokens: number[] = [];
    for (let i = 0; i < 5; i++) statusesTokens.push((await fetch(`${s.base}/api/tokens`)).status);
    expect(statusesTokens).toEqual([401, 401, 401, 401, 429]);
  });
});
