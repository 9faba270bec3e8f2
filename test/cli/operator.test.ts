/** The operator commands (SPEC 2) against a running server with real agents, through the built CLI. */
import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testStore } from "../helpers/databases.js";
import { hodeiBin, runHodei, type CliResult } from "../helpers/hodei-cli.js";
import { ADMIN_TOKEN, TEST_KEY, startTestServer, type TestServer } from "../http/server-fixture.js";
import { SecretStore } from "../../src/secrets/secret-store.js";
import { stage } from "../saga/plan-stages.js";

/** Like runHodei, with text on stdin. */
function hodeiWithStdin(args: string[], input: string, env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [hodeiBin, ...args], { env: { ...process.env, NO_COLOR: "1", ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe("operator CLI", () => {
  let s: TestServer;
  let failedRun: string;
  const withToken = { HODEI_ADMIN_TOKEN: ADMIN_TOKEN };
  const noToken = { HODEI_ADMIN_TOKEN: "", HODEI_TOKEN: "" };
  const hodei = (args: string[], env: NodeJS.ProcessEnv = noToken) => runHodei([...args, "--server", s.base], { env });

  beforeAll(async () => {
    s = await startTestServer(await testStore("pglite").create());
    failedRun = await s.startRun([
      stage("build", { commands: ["printf 'built\\n'"] }),
      stage("test", { needs: ["build"], commands: ["echo testing; exit 2"] }),
    ]);
    await s.control.engine.waitForRun(failedRun);
  });
  afterAll(() => s?.stop());

  it("hodei runs prints a table, and --json the API's page", async () => {
    const res = await hodei(["runs"]);
    expect(res.code, res.stderr).toBe(0);
    const [header, row] = res.stdout.split("\n");
    expect(header).toMatch(/^ID\s+STATUS\s+REPO\s+REF\s+COMMIT\s+EVENT\s+DURATION\s+CREATED$/);
    expect(row).toContain(failedRun);
    expect(row).toMatch(/failure\s+acme\/widgets\s+main\s+c0ffee0\s+push/);
    const json = await hodei(["runs", "--json", "--repo", "acme/widgets"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ runs: [{ id: failedRun, conclusion: "failure" }], next: null });
    expect((await hodei(["runs", "--repo", "nobody/none"])).stdout).toBe("no runs for nobody/none\n");
    expect((await hodei(["runs", "--limit", "0"])).code).toBe(2);
  });

  it("hodei logs prints a stage's log, or every stage's with headers; exit 1 with the server's error for an unknown run", async () => {
    const one = await hodei(["logs", failedRun, "test"]);
    expect(one.code).toBe(0);
    expect(one.stdout).toContain("testing\n");
    const all = await hodei(["logs", failedRun]);
    expect(all.stdout).toMatch(/== build \(success, attempt 1\) ==\n[\s\S]*built\n== test \(failure, attempt 1\) ==\n[\s\S]*testing\n/);
    const missing = await hodei(["logs", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("hodei: no run nope\n");
  });

  it("hodei logs --follow streams until the stage ends, exit 1 when it failed; --follow without a stage is a usage error", async () => {
    const gate = `/tmp/hodei-cli-gate-${process.pid}-${Date.now()}`;
    const id = await s.startRun([stage("slow", { commands: [`echo early; while [ ! -f ${gate} ]; do sleep 0.05; done; echo late; exit 5`] })]);
    const follower = hodei(["logs", id, "slow", "--follow"]);
    await new Promise((r) => setTimeout(r, 1500));
    await writeFile(gate, "");
    const res = await follower;
    expect(res.stdout).toMatch(/early\n[\s\S]*late\n$/);
    expect(res.stderr).toContain("-- slow: failure --");
    expect(res.code).toBe(1);
    expect((await hodei(["logs", id, "--follow"])).code).toBe(2);
  });

  it("hodei rerun needs the token (exit 1, saying so), then re-runs failed stages or one stage", async () => {
    const refused = await hodei(["rerun", failedRun, "--failed"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("nor HODEI_ADMIN_TOKEN is set");
    const failed = await hodei(["rerun", failedRun, "--failed", "--json"], withToken);
    expect(failed.code, failed.stderr).toBe(0);
    expect(JSON.parse(failed.stdout)).toEqual({ id: failedRun, stages: ["test"] });
    await s.control.engine.waitForRun(failedRun);
    const one = await hodei(["rerun", failedRun, "build"], withToken);
    expect(one.stdout).toBe(`re-running in run ${failedRun}: build, test\n`);
    await s.control.engine.waitForRun(failedRun);
    const unknown = await hodei(["rerun", failedRun, "zzz"], withToken);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('has no stage "zzz"');
    expect((await hodei(["rerun", failedRun, "build", "--failed"], withToken)).code).toBe(2);
  });

  it("hodei cancel cancels a running run; a finished one is refused with the server's reason", async () => {
    const id = await s.startRun([stage("long", { commands: ["sleep 30"] })]);
    const res = await hodei(["cancel", id], withToken);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe(`cancelling run ${id}\n`);
    expect((await s.control.engine.waitForRun(id)).conclusion).toBe("cancelled");
    const again = await hodei(["cancel", id], withToken);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already completed");
  });

  it("hodei secret set reads the value from stdin and stores it sealed", async () => {
    const res = await hodeiWithStdin(["secret", "set", "acme/widgets", "NPM_TOKEN", "--server", s.base], "npm_abc123\n", withToken);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toBe("secret NPM_TOKEN set for acme/widgets\n");
    expect(await new SecretStore(s.control.db, TEST_KEY).reveal("acme/widgets", ["NPM_TOKEN"])).toEqual({ NPM_TOKEN: "npm_abc123" });
    const empty = await hodeiWithStdin(["secret", "set", "acme/widgets", "X", "--server", s.base], "", withToken);
    expect(empty.code).toBe(2);
    const badRepo = await hodeiWithStdin(["secret", "set", "widgets", "X", "--server", s.base], "v", withToken);
    expect(badRepo.code).toBe(1);
    expect(badRepo.stderr).toContain("owner/name");
  });

  it("an unreachable server is exit 1 with the address", async () => {
    const res = await runHodei(["runs", "--server", "http://127.0.0.1:9"]);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("cannot reach http://127.0.0.1:9");
  });
});
