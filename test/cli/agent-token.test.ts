/**
 * `hodei agent-token create|list|revoke` through the built CLI against a
 * running server, and real `hodei agent` processes registering with what it
 * created: accepted while valid, refused with the reason once revoked or expired.
 * Then the API's status codes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildHttpApp } from "../../src/http/app.js";
import { testStore } from "../helpers/databases.js";
import { runHodei } from "../helpers/hodei-cli.js";
import { ADMIN_TOKEN, bearer, startTestServer, type TestServer } from "../http/server-fixture.js";
import { startAgent, stopAgent, waitFor, type AgentProcess } from "../agent/helpers.js";

interface Created {
  id: string;
  token: string;
  description: string;
  expiresAt: string | null;
}

describe("hodei agent-token", () => {
  let s: TestServer;
  const agents: AgentProcess[] = [];
  const withToken = { HODEI_ADMIN_TOKEN: ADMIN_TOKEN };
  const hodei = (args: string[], env: NodeJS.ProcessEnv = withToken) => runHodei([...args, "--server", s.base], { env });
  const grpc = () => `127.0.0.1:${s.control.grpcPort}`;

  beforeAll(async () => {
    s = await startTestServer(await testStore("pglite").create(), {}, 0);
  });
  afterAll(async () => {
    for (const a of agents) await stopAgent(a);
    await s?.stop();
  });

  it("create prints the token once; a real agent registers with it, twice; list shows it without the secret", async () => {
    const res = await hodei(["agent-token", "create", "--description", "build-box", "--expires-in", "30d", "--json"]);
    expect(res.code, res.stderr).toBe(0);
    const created = JSON.parse(res.stdout) as Created;
    expect(created.token).toMatch(/^hodei_rt_[A-Za-z0-9_-]{43}$/);
    expect(created.description).toBe("build-box");
    const days = (Date.parse(created.expiresAt!) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);
    const { rows } = await s.control.db.query(`select * from agent_tokens where id = $1`, [created.id]);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(created.token.slice(9));

    agents.push(startAgent(grpc(), created.token, s.control.caPem), startAgent(grpc(), created.token, s.control.caPem));
    await waitFor("two agents registered with one registration token", () => s.control.engine.connectedAgents === 2, 30_000);

    const table = await hodei(["agent-token", "list"]);
    expect(table.code, table.stderr).toBe(0);
    const [header, row, extra] = table.stdout.split("\n");
    expect(header).toMatch(/^ID\s+STATUS\s+CREATED\s+EXPIRES\s+LAST USED\s+DESCRIPTION$/);
    expect(row).toMatch(new RegExp(`^${created.id}\\s+active\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\s+\\d{4}-\\d\\d-\\d\\d \\S+\\s+\\d{4}-\\d\\d-\\d\\d \\S+\\s+build-box$`));
    expect(extra).toBe("");
    expect(table.stdout).not.toContain(created.token);
    const json = JSON.parse((await hodei(["agent-token", "list", "--json"])).stdout) as { tokens: Record<string, unknown>[] };
    expect(json.tokens).toHaveLength(1);
    expect(Object.keys(json.tokens[0]!).sort()).toEqual(["createdAt", "description", "expiresAt", "id", "lastUsedAt", "revokedAt"]);
    expect(json.tokens[0]!.lastUsedAt).not.toBeNull();

    const plain = await hodei(["agent-token", "create"]);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^registration token \S+ created, does not expire\n\n {2}hodei_rt_\S+\n\nIt is shown only now/);
  });

  it("revoke: a new agent with that token is refused, saying so; agents already registered keep working", async () => {
    const created = JSON.parse((await hodei(["agent-token", "create", "--json"])).stdout) as Created;
    const ok = startAgent(grpc(), created.token, s.control.caPem);
    agents.push(ok);
    // The two agents of the first test, and this one.
    await waitFor("the agent registered before revocation", () => s.control.engine.connectedAgents === 3, 30_000);

    const revoked = await hodei(["agent-token", "revoke", created.id]);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toBe(`registration token ${created.id} revoked\n`);
    const late = startAgent(grpc(), created.token, s.control.caPem);
    agents.push(late);
    expect(await late.exited).toBe(1);
    expect(late.output()).toContain("the server refused this agent: registration token refused: the token was revoked");
    expect(ok.child.exitCode).toBeNull();
    expect(s.control.engine.connectedAgents).toBe(3);
    expect((await hodei(["agent-token", "list"])).stdout).toMatch(new RegExp(`${created.id}\\s+revoked`));
  });

  it("an expired token is refused with the reason, and listed as expired", async () => {
    const created = JSON.parse((await hodei(["agent-token", "create", "--expires-in", "1h", "--json"])).stdout) as Created;
    // An hour cannot pass in a test: move the expiry into the past, as time would.
    await s.control.db.query(`update agent_tokens set expires_at = $2 where id = $1`, [created.id, new Date(Date.now() - 1000)]);
    const late = startAgent(grpc(), created.token, s.control.caPem);
    agents.push(late);
    expect(await late.exited).toBe(1);
    expect(late.output()).toContain("registration token refused: the token has expired");
    expect((await hodei(["agent-token", "list"])).stdout).toMatch(new RegExp(`${created.id}\\s+expired`));
  });

  it("CLI errors: no admin token exits 1 saying so; a bad --expires-in or an unknown id", async () => {
    const noToken = await hodei(["agent-token", "list"], { HODEI_ADMIN_TOKEN: "", HODEI_TOKEN: "" });
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toBe("hodei: missing bearer token: send Authorization: Bearer $HODEI_ADMIN_TOKEN (neither HODEI_TOKEN (a personal token, from POST /api/tokens when signed in) nor HODEI_ADMIN_TOKEN is set)\n");
    const bad = await hodei(["agent-token", "create", "--expires-in", "3 days"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--expires-in expects a duration like 12h, 30d or 2w");
    const unknown = await hodei(["agent-token", "revoke", "nope"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe("hodei: no registration token nope\n");
  });

  it("API: 201 with the token, 401 without or with a wrong bearer, 400 for bad input, 404 unknown, 204 revoke (again 204), 403 without an admin token", async () => {
    const api = (method: string, path: string, body?: unknown, headers: Record<string, string> = bearer) =>
      fetch(`${s.base}${path}`, { method, headers: body === undefined ? headers : { ...headers, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    const res = await api("POST", "/api/agent-tokens", { description: "api", expiresInSeconds: 3600 });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const created = (await res.json()) as Created;
    expect(Object.keys(created).sort()).toEqual(["description", "expiresAt", "id", "token"]);
    for (const [method, path] of [["POST", "/api/agent-tokens"], ["GET", "/api/agent-tokens"], ["DELETE", `/api/agent-tokens/${created.id}`]] as const) {
      expect((await api(method, path, method === "POST" ? {} : undefined, {})).status, `${method} ${path}`).toBe(401);
      expect((await api(method, path, method === "POST" ? {} : undefined, { authorization: "Bearer wrong" })).status, `${method} ${path}`).toBe(401);
    }
    for (const body of [{ expiresInSeconds: 5 }, { expiresInSeconds: "30d" }, { description: "x".repeat(201) }, { token: "mine" }]) {
      const r = await api("POST", "/api/agent-tokens", body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      expect(Object.keys((await r.json()) as object)).toEqual(["error"]);
    }
    const list = (await (await api("GET", "/api/agent-tokens")).json()) as { tokens: { id: string }[] };
    expect(list.tokens.map((t) => t.id)).toContain(created.id);
    expect(JSON.stringify(list)).not.toContain(created.token);
    expect((await api("DELETE", "/api/agent-tokens/unknown-id")).status).toBe(404);
    expect((await api("DELETE", `/api/agent-tokens/${created.id}`)).status).toBe(204);
    expect((await api("DELETE", `/api/agent-tokens/${created.id}`)).status).toBe(204);

    const closed = buildHttpApp({ db: s.control.db, webhookSecrets: {} });
    const refused = await closed.inject({ method: "POST", url: "/api/agent-tokens", headers: bearer, payload: {} });
    expect(refused.statusCode).toBe(403);
    await closed.close();
  });
});
