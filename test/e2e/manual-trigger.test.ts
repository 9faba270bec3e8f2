/**
 * `POST /api/runs` against a real `hodei server` process: a local file://
 * repository stands in for a forge's clone URL; the run is fetched, planned
 * and run by the server's local agents. Then every refusal's status and reason.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlane } from "../../src/server/control-plane.js";
import { buildHttpApp } from "../../src/http/app.js";
import { testStore } from "../helpers/databases.js";
import { hodeiBin, repoRoot } from "../helpers/hodei-cli.js";
import { createRepo, type TestRepo } from "../git/repos.js";

const TOKEN = "manual-trigger-admin-token";
const bearer = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const PIPELINE = `name: manual-ci
on: { push: { branches: [nothing-matches] } }
stages:
  build:
    run: echo "built $HODEI_EVENT $HODEI_REF $HODEI_REPO" && cat hello.txt
    artifacts: [out.txt]
    when: { event: [manual] }
  check:
    needs: [build]
    run: test -f out.txt
`;

interface RunBody {
  id: string;
  repo: string;
  sha: string;
  ref: string;
  event: string;
  status: string;
  conclusion: string | null;
  stages: { id: string; conclusion: string | null }[];
}

const INPUTS_PIPELINE = `on:
  manual:
    inputs:
      version: { required: true }
      target: { type: choice, options: [staging, production], default: staging }
      replicas: { type: number, default: 1 }
stages:
  ship:
    run: echo "ship \${{ inputs.version }} to $HODEI_INPUT_TARGET x\${{ inputs.replicas }}"
`;

describe("manual trigger through hodei server", () => {
  let child: ChildProcess;
  let exited: Promise<number | null>;
  let base = "";
  let out = "";
  let repo: TestRepo;
  let head = "";
  let first = "";

  beforeAll(async () => {
    repo = await createRepo("widgets");
    first = await repo.commit({ ".hodei/pipeline.yml": PIPELINE.replace("artifacts: [out.txt]", "artifacts: [out.txt]\n    # first"), "hello.txt": "hello one\n" });
    head = await repo.commit({ ".hodei/pipeline.yml": PIPELINE.replace("cat hello.txt", "cat hello.txt > out.txt && cat out.txt"), "hello.txt": "hello two\n" });
    repo.git("branch", "no-pipeline", first);
    repo.git("checkout", "--quiet", "--orphan", "empty");
    await repo.commit({ ".hodei/pipeline.yml": null, "README": "no pipeline here\n" });
    repo.git("checkout", "--quiet", "-b", "broken", head);
    await repo.commit({ ".hodei/pipeline.yml": "stages:\n  a:\n    run: x\n    needs: [ghost]\n" });
    repo.git("checkout", "--quiet", "-b", "inputs", head);
    await repo.commit({ ".hodei/pipeline.yml": INPUTS_PIPELINE });
    repo.git("checkout", "--quiet", "main");

    const store = await testStore("pglite").create();
    child = spawn(process.execPath, [hodeiBin, "server"], {
      cwd: repoRoot,
      env: {
        ...process.env,
        DATABASE_URL: "",
        HODEI_DATA_DIR: store.dataDir,
        HODEI_PORT: "0",
        HODEI_GRPC_PORT: "0",
        HODEI_LOCAL_AGENTS: "1",
        HODEI_ADMIN_TOKEN: TOKEN,
        HODEI_ALLOW_FILE_REPOS: "1",
        HODEI_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
    exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    const deadline = Date.now() + 45_000;
    let ready: RegExpExecArray | null;
    while (!(ready = /health +(http:\/\/127\.0\.0\.1:\d+)\/healthz/.exec(out))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`hodei server did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    base = ready[1]!;
  }, 60_000);

  afterAll(async () => {
    child?.kill("SIGTERM");
    if (child) expect(await exited).toBe(0);
  });

  const post = (body: unknown, headers: Record<string, string> = bearer) =>
    fetch(`${base}/api/runs`, { method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
  const finished = async (id: string): Promise<RunBody> => {
    let run: RunBody | undefined;
    await expect
      .poll(
        async () => {
          run = (await (await fetch(`${base}/api/runs/${id}`)).json()) as RunBody;
          return run.status;
        },
        { timeout: 60_000, interval: 200 },
      )
      .toBe("completed");
    return run!;
  };

  it("runs the ref's head: 201 {id}, event manual, stages run by the server's agent", async () => {
    const res = await post({ repo: repo.url, ref: "refs/heads/main" });
    expect(res.status, out).toBe(201);
    const { id } = (await res.json()) as { id: string };
    expect(res.headers.get("location")).toBe(`/api/runs/${id}`);
    const run = await finished(id);
    expect(run).toMatchObject({ repo: "acme/widgets", sha: head, ref: "refs/heads/main", event: "manual", conclusion: "success" });
    expect(run.stages.map((s) => [s.id, s.conclusion])).toEqual([
      ["build", "success"],
      ["check", "success"],
    ]);
    const log = await (await fetch(`${base}/api/runs/${id}/stages/build/logs`)).text();
    expect(log).toContain("built manual refs/heads/main acme/widgets");
    expect(log).toContain("hello two");
  });

  it("runs an exact sha when given one (here an older commit, whose pipeline differs)", async () => {
    const res = await post({ repo: repo.url, ref: "refs/heads/main", sha: first });
    expect(res.status).toBe(201);
    const run = await finished(((await res.json()) as { id: string }).id);
    expect(run.sha).toBe(first);
    // The older pipeline never writes out.txt: its artifact pattern fails the build.
    expect(run.conclusion).toBe("failure");
    expect(run.stages.map((s) => [s.id, s.conclusion])).toEqual([
      ["build", "failure"],
      ["check", "skipped"],
    ]);
  });

  it("takes typed inputs: substituted and as HODEI_INPUT_*, recorded in run.planned; wrong ones refused 422 naming each", async () => {
    const res = await post({ repo: repo.url, ref: "refs/heads/inputs", inputs: { version: "2.0.1", replicas: 3 } });
    expect(res.status, out).toBe(201);
    const { id } = (await res.json()) as { id: string };
    expect((await finished(id)).conclusion).toBe("success");
    const log = await (await fetch(`${base}/api/runs/${id}/stages/ship/logs`)).text();
    expect(log).toContain("ship 2.0.1 to staging x3");
    const { events } = (await (await fetch(`${base}/api/runs/${id}/events`)).json()) as { events: { type: string; data: { inputs?: unknown } }[] };
    expect(events[0]?.data.inputs).toEqual({ version: "2.0.1", target: "staging", replicas: "3" });

    const refused = await post({ repo: repo.url, ref: "refs/heads/inputs", inputs: { target: "moon", colour: "red" } });
    expect(refused.status).toBe(422);
    expect(((await refused.json()) as { error: string }).error).toBe(
      'the inputs do not fit .hodei/pipeline.yml: input "version" is required; input "target" is one of "staging", "production", got "moon"; unknown input "colour": the pipeline declares "version", "target", "replicas"',
    );
    const badShape = await post({ repo: repo.url, ref: "refs/heads/inputs", inputs: { version: { nested: true } } });
    expect(badShape.status).toBe(400);
  });

  it("hodei trigger starts the same run from the CLI with --input, and prints the server's reason for wrong inputs", async () => {
    const cli = (...args: string[]) =>
      spawnSync(process.execPath, [hodeiBin, "trigger", repo.url, "inputs", "--server", base, ...args], { env: { ...process.env, HODEI_ADMIN_TOKEN: TOKEN }, encoding: "utf8" });
    const ok = cli("--input", "version=3.0.0", "--input", "target=production");
    expect(ok.status, ok.stderr).toBe(0);
    const id = /^started run (\S+)$/m.exec(ok.stdout)?.[1] ?? "";
    expect((await finished(id)).conclusion).toBe("success");
    expect(await (await fetch(`${base}/api/runs/${id}/stages/ship/logs`)).text()).toContain("ship 3.0.0 to production x1");
    const bad = cli("--input", "target=moon");
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('input "version" is required');
    expect(bad.stderr).toContain('input "target" is one of "staging", "production", got "moon"');
  });

  it("401 without or with a wrong bearer token; 400 for a malformed body", async () => {
    const missing = await post({ repo: repo.url, ref: "refs/heads/main" }, { "content-type": "application/json" });
    expect(missing.status).toBe(401);
    const wrong = await post({ repo: repo.url, ref: "refs/heads/main" }, { ...bearer, authorization: "Bearer nope" });
    expect(wrong.status).toBe(401);
    for (const body of [{ ref: "refs/heads/main" }, { repo: repo.url, ref: "main" }, { repo: repo.url, ref: "refs/heads/main", sha: "abc" }, { repo: repo.url, ref: "refs/heads/main", x: 1 }, "{nope"]) {
      const res = await post(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(Object.keys((await res.json()) as object)).toEqual(["error"]);
    }
  });

  it("refuses what it cannot run with the reason: bad URL 400, unfetchable 502, unknown ref or commit, no or invalid pipeline 422", async () => {
    const missingDir = `file://${path.join(path.dirname(repo.dir), "gone", "nothing")}`;
    const cases: [unknown, number, RegExp][] = [
      [{ repo: "ssh://git@example.com/acme/widgets.git", ref: "refs/heads/main" }, 400, /scheme ssh: is not supported/],
      [{ repo: "https://user:hunter2@example.com/acme/widgets.git", ref: "refs/heads/main" }, 400, /^clone URL https:\/\/\*\*\*@example.com\/acme\/widgets.git: credentials in the URL are refused$/],
      [{ repo: missingDir, ref: "refs/heads/main" }, 502, /^cannot fetch file:\/\/.*gone\/nothing: .*(not appear to be a git repository|does not exist)/],
      [{ repo: repo.url, ref: "refs/heads/ghost" }, 422, /has no refs\/heads\/ghost$/],
      [{ repo: repo.url, ref: "refs/heads/main", sha: "0".repeat(40) }, 422, /commit 0{40} is not in/],
      [{ repo: repo.url, ref: "refs/heads/empty" }, 422, /has no \.hodei\/pipeline\.yml/],
      [{ repo: repo.url, ref: "refs/heads/broken" }, 422, /does not validate: \.hodei\/pipeline\.yml:\d+:\d+: .*ghost/],
    ];
    for (const [body, status, reason] of cases) {
      const res = await post(body);
      const answer = (await res.json()) as { error: string };
      expect(res.status, JSON.stringify({ body, answer })).toBe(status);
      expect(answer.error).toMatch(reason);
      expect(answer.error).not.toContain("hunter2");
    }
  });
});

describe("manual trigger on a server without HODEI_ALLOW_FILE_REPOS or HODEI_ADMIN_TOKEN", () => {
  let control: ControlPlane;
  let repo: TestRepo;
  beforeAll(async () => {
    repo = await createRepo("gadgets");
    await repo.commit({ ".hodei/pipeline.yml": "stages:\n  a:\n    run: 'true'\n" });
    control = await ControlPlane.start({ ...(await testStore("pglite").create()), localAgents: 0, forge: { publicUrl: "http://127.0.0.1:1", allowFileRepos: false } });
  });
  afterAll(() => control?.stop());

  it("400 for a file:// URL, naming the variable; 403 for every write without an admin token", async () => {
    const trigger = control.manualTriggers?.trigger;
    expect(trigger).toBeDefined();
    const app = buildHttpApp({ db: control.db, webhookSecrets: {}, engine: control.engine, adminToken: TOKEN, triggerManual: trigger });
    const res = await app.inject({ method: "POST", url: "/api/runs", headers: bearer, payload: { repo: repo.url, ref: "refs/heads/main" } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: `clone URL ${repo.url}: file:// repositories need HODEI_ALLOW_FILE_REPOS=1` });
    const closed = buildHttpApp({ db: control.db, webhookSecrets: {}, engine: control.engine, triggerManual: trigger });
    const refused = await closed.inject({ method: "POST", url: "/api/runs", headers: bearer, payload: { repo: repo.url, ref: "refs/heads/main" } });
    expect(refused.statusCode).toBe(403);
    expect(refused.json<{ error: string }>().error).toMatch(/HODEI_ADMIN_TOKEN/);
    await app.close();
    await closed.close();
  });
});
