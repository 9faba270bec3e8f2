import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { planPipeline, planPipelineSource, type Plan, type PlannedStage } from "../../src/pipeline-parser/index.js";
import type { TriggerContext } from "../../src/pipeline-parser/types.js";
import { context, fixture, repoRoot } from "./helpers.js";

async function plan(name: string, ctx: Partial<TriggerContext> = {}): Promise<Plan> {
  const result = await planPipeline(fixture(`valid/${name}`), context(ctx), { cwd: repoRoot });
  if (!result.ok) throw new Error(result.errors.map(String).join("\n"));
  return result.plan;
}

const ids = (p: Plan): string[] => p.stages.map((s) => s.id);
const skipped = (p: Plan): string[] => p.stages.filter((s) => s.skip).map((s) => s.id);

describe("plan: matrix and order", () => {
  it("expands a 3x2 matrix in declared order, fans needs in, and orders topologically with file-order ties", async () => {
    const p = await plan("matrix-fanin.yml");
    const tests = ["linux", "mac", "win"].flatMap((os) => ["18", "20"].map((node) => `test[os=${os},node=${node}]`));
    // Kahn's algorithm taking the earliest-in-file ready stage: build (before docs), then
    // every test instance (before docs), then report (first in the file) before docs.
    expect(ids(p)).toEqual(["build", ...tests, "report", "docs"]);
    expect(p.stages.find((s) => s.id === "report")?.needs).toEqual(tests);
    expect(p.stages.find((s) => s.id === tests[0])?.needs).toEqual(["build"]);
  });

  it("leaves out exclude, merges or adds include, and carries fail-fast and max-parallel", async () => {
    const p = await plan("matrix-strategy.yml");
    const tests = [
      "test[os=linux,node=18]",
      // { node: 20, experimental: true } matches both node=20 combinations (macos/18 is excluded).
      "test[os=linux,node=20,experimental=true]",
      "test[os=macos,node=20,experimental=true]",
      // node=22 contradicts every combination: a combination of its own.
      "test[os=linux,node=22,coverage=lcov]",
    ];
    expect(ids(p)).toEqual([...tests, "only-include[target=arm64]", "only-include[target=x86_64]", "package"]);
    const byId = new Map(p.stages.map((s) => [s.id, s]));
    // A key only some include entries add is empty where it is missing.
    expect(byId.get(tests[0]!)).toMatchObject({ commands: ["npm test -- --coverage="], env: { EXPERIMENTAL: "" }, failFast: true, maxParallel: 2 });
    expect(byId.get(tests[3]!)).toMatchObject({ matrix: { os: "linux", node: "22", coverage: "lcov" }, commands: ["npm test -- --coverage=lcov"] });
    expect(byId.get(tests[1]!)?.env).toEqual({ EXPERIMENTAL: "true" });
    // Without fail-fast / max-parallel the plan has neither key.
    expect(Object.keys(byId.get("only-include[target=arm64]")!)).not.toContain("failFast");
    expect(Object.keys(byId.get("only-include[target=arm64]")!)).not.toContain("maxParallel");
    expect(byId.get("package")?.needs).toEqual([...tests, "only-include[target=arm64]", "only-include[target=x86_64]"]);
  });

  it("does not skip a stage with when.status with the stages it needs: that is decided when they end", async () => {
    const main = await plan("outcome.yml", { branch: "main" });
    expect(main.stages.map((s) => [s.id, s.skip, s.status])).toEqual([
      ["build", false, undefined],
      ["deploy", false, undefined],
      ["notify", false, ["failure"]],
      ["cleanup", false, "always"],
      ["after", false, undefined],
    ]);
    const dev = await plan("outcome.yml", { branch: "dev" });
    expect(skipped(dev)).toEqual(["deploy", "after"]);
    // The rest of `when` still applies to it.
    expect(skipped(await plan("outcome.yml", { event: "manual" }))).toEqual(["cleanup"]);
    expect(Object.keys(main.stages[0]!)).not.toContain("status");
  });

  it("substitutes matrix values and applies defaults", async () => {
    const p = await plan("matrix-fanin.yml");
    const mac20 = p.stages.find((s) => s.id === "test[os=mac,node=20]");
    expect(mac20).toEqual<PlannedStage>({
      id: "test[os=mac,node=20]",
      name: "test",
      matrix: { os: "mac", node: "20" },
      needs: ["build"],
      skip: false,
      provider: "local",
      image: null,
      commands: ["echo mac", "node-20"],
      env: { CI: "true", LEVEL: "3", FROM: "defaults", DB: "db-mac" },
      secrets: [],
      artifacts: [],
      timeoutSeconds: 5400,
      retries: 0,
      allowFailure: false,
      workdir: "pkg/mac",
      resources: null,
      runsOn: [],
    });
    expect(p.stages.find((s) => s.id === "docs")?.timeoutSeconds).toBe(90);
  });

  it("prints the SPEC plan shape for the SPEC example", async () => {
    const p = await plan("spec-example.yml");
    expect(p.name).toBe("ci");
    expect(p.triggered).toBe(true);
    expect(ids(p)).toEqual([
      "build",
      "lint",
      "test[node=18,db=pg]",
      "test[node=18,db=pglite]",
      "test[node=20,db=pg]",
      "test[node=20,db=pglite]",
      "publish",
    ]);
    const first = p.stages[2];
    expect(first && Object.keys(first)).toEqual([
      "id", "name", "matrix", "needs", "skip", "provider", "image", "commands", "env", "secrets", "artifacts",
      "timeoutSeconds", "retries", "allowFailure", "workdir", "resources", "runsOn",
    ]);
    // The SPEC example's `when: tag` skips test on a branch push, and publish with it.
    expect(first).toMatchObject({ image: "node:18", commands: ["npm test"], env: { NODE_ENV: "test", DB: "pg" }, secrets: ["NPM_TOKEN"], timeoutSeconds: 600, retries: 1, skip: true, workdir: "packages/app" });
    expect(p.stages.find((s) => s.id === "build")).toMatchObject({ commands: ["npm ci && npm run build"], image: "node:20", timeoutSeconds: 1800, artifacts: ["dist/", "reports/*.xml"] });
    expect(skipped(p)).toEqual(["test[node=18,db=pg]", "test[node=18,db=pglite]", "test[node=20,db=pg]", "test[node=20,db=pglite]", "publish"]);
  });
});

describe("plan: resources and runs-on", () => {
  it("plans resources over defaults and runs-on with matrix values substituted", async () => {
    const p = await plan("resources-runs-on.yml");
    expect(p.stages.map((s) => [s.id, s.resources, s.runsOn])).toEqual([
      ["build[arch=amd64]", null, ["gpu", "arch=amd64"]],
      ["build[arch=arm64]", null, ["gpu", "arch=arm64"]],
      ["image", { cpus: 1.5, memoryBytes: 2 * 1024 ** 3 }, []],
      ["small", { cpus: 0.5, memoryBytes: null }, []],
    ]);
  });
});

describe("plan: services", () => {
  it("plans services with matrix values substituted, commands split into words and readiness made explicit", async () => {
    const p = await plan("services.yml");
    const byId = new Map(p.stages.map((s) => [s.id, s]));
    expect(byId.get("test[pg=16]")?.services).toEqual([
      {
        name: "db",
        image: "postgres:16",
        env: { POSTGRES_PASSWORD: "secret", PORT: "5432" },
        command: ["postgres", "-c", "shared_buffers=16MB", "-c", "fsync=off"],
        ports: [5432],
        ready: { command: ["sh", "-c", "pg_isready -U postgres"] },
        readyTimeoutSeconds: 30,
      },
      { name: "web", image: "nginx", env: {}, command: ["nginx", "-g", "daemon off;"], ports: [], ready: { port: 80 }, readyTimeoutSeconds: 60 },
      { name: "plain", image: "busybox", env: {}, command: null, ports: [], ready: null, readyTimeoutSeconds: 60 },
    ]);
    expect(byId.get("test[pg=15]")?.services?.[0]?.image).toBe("postgres:15");
    // The defaults' services, where the stage has none; without `ready`, the first port.
    expect(byId.get("inherits")?.services).toEqual([{ name: "cache", image: "redis:7", env: {}, command: null, ports: [6379], ready: { port: 6379 }, readyTimeoutSeconds: 60 }]);
    // Not on a local stage (from defaults they apply where they can), nor where `services: {}` turns them off; a stage without services has no key.
    expect(Object.keys(byId.get("lint")!)).not.toContain("services");
    expect(Object.keys(byId.get("none")!)).not.toContain("services");
  });
  it("plans the README's services example", async () => {
    const readme = await readFile(path.join(repoRoot, "README.md"), "utf8");
    const example = /## Services\n[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBeDefined();
    const file = path.join(await mkdtemp(path.join(os.tmpdir(), "hodei-readme-")), "pipeline.yml");
    await writeFile(file, example!);
    const result = await planPipeline(file, context(), { cwd: repoRoot });
    if (!result.ok) throw new Error(result.errors.map(String).join("\n"));
    expect(result.plan.stages.map((s) => s.services?.map((x) => [x.name, x.image, x.command, x.ready, x.readyTimeoutSeconds]))).toEqual(
      ["15", "16"].map((pg) => [["db", `postgres:${pg}`, ["postgres", "-c", "fsync=off"], { command: ["sh", "-c", "pg_isready -U postgres"] }, 30]]),
    );
  });
});

describe("plan: on", () => {
  it("without `on`: branch pushes and pull requests, not tag pushes; manual always", async () => {
    expect((await plan("no-on.yml", { branch: "feature/x" })).triggered).toBe(true);
    expect((await plan("no-on.yml", { event: "pull_request", pullRequest: { number: 1, baseBranch: "dev" } })).triggered).toBe(true);
    expect((await plan("no-on.yml", { branch: null, tag: "v1" })).triggered).toBe(false);
    expect((await plan("no-on.yml", { event: "manual", branch: null, tag: "v1" })).triggered).toBe(true);
  });

  it("branches, tags and paths of push", async () => {
    expect((await plan("spec-example.yml", { branch: "release/1.2" })).triggered).toBe(true);
    expect((await plan("spec-example.yml", { branch: "feature" })).triggered).toBe(false);
    expect((await plan("spec-example.yml", { branch: null, tag: "v1.0" })).triggered).toBe(true);
    expect((await plan("spec-example.yml", { branch: null, tag: "nightly" })).triggered).toBe(false);
    expect((await plan("spec-example.yml", { changedFiles: ["src/a.ts", "docs/x.md"] })).triggered).toBe(true);
    expect((await plan("spec-example.yml", { changedFiles: ["README.md"] })).triggered).toBe(false);
    expect((await plan("spec-example.yml", { changedFiles: [] })).triggered).toBe(false);
    const off = await plan("spec-example.yml", { branch: "feature" });
    expect(off.stages).toEqual([]);
  });

  it("with only tags given, branch pushes do not trigger", async () => {
    expect((await plan("tags-only.yml", { branch: "main" })).triggered).toBe(false);
    expect((await plan("tags-only.yml", { branch: null, tag: "v2" })).triggered).toBe(true);
    expect((await plan("tags-only.yml", { event: "pull_request", pullRequest: { number: 1, baseBranch: "main" } })).triggered).toBe(false);
  });

  it("pull_request filters on the base branch and paths", async () => {
    const pr = (baseBranch: string, changedFiles: string[] | null = null): Partial<TriggerContext> => ({
      event: "pull_request",
      branch: "feature",
      pullRequest: { number: 7, baseBranch },
      changedFiles,
    });
    expect((await plan("spec-example.yml", pr("main"))).triggered).toBe(true);
    expect((await plan("spec-example.yml", pr("dev"))).triggered).toBe(false);
    expect((await plan("spec-example.yml", pr("main", [".github/x.yml", "src/.hidden"]))).triggered).toBe(true);
    expect((await plan("spec-example.yml", pr("main", ["docs/a.md"]))).triggered).toBe(false);
  });
});

describe("plan: schedules", () => {
  it("lists on.schedule with the time zone (default UTC), whatever the trigger", async () => {
    const schedules = [
      { cron: "0 3 * * *", branch: "main", timezone: "Europe/Berlin" },
      { cron: "30 1 * * MON-FRI", branch: "release", timezone: "UTC" },
    ];
    expect((await plan("schedule.yml")).schedules).toEqual(schedules);
    const other = await plan("schedule.yml", { branch: "dev" });
    expect(other).toMatchObject({ triggered: false, stages: [], schedules });
    expect((await plan("spec-example.yml")).schedules).toEqual([]);
  });

  it("a schedule event triggers a branch with a schedule, runs when: { event: [schedule] } stages, and no other branch", async () => {
    const push = await plan("schedule.yml");
    expect(skipped(push)).toEqual(["long-tests"]);
    const nightly = await plan("schedule.yml", { event: "schedule", branch: "main" });
    expect(nightly.triggered).toBe(true);
    expect(skipped(nightly)).toEqual([]);
    expect((await plan("schedule.yml", { event: "schedule", branch: "release" })).triggered).toBe(true);
    expect((await plan("schedule.yml", { event: "schedule", branch: "dev" })).triggered).toBe(false);
    // Without on.schedule, nothing is scheduled.
    expect((await plan("spec-example.yml", { event: "schedule", branch: "main" })).triggered).toBe(false);
  });

  it("plans the README's example as the README says", async () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const section = readme.slice(readme.indexOf("## Schedules\n"));
    const text = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? "";
    const planned = async (ctx: Partial<TriggerContext>) => {
      const result = await planPipelineSource({ file: "README.md", kind: "yaml", text }, context(ctx));
      if (!result.ok) throw new Error(result.errors.map(String).join("\n"));
      return result.plan;
    };
    const push = await planned({ event: "push", branch: "main" });
    expect(push.schedules).toEqual([{ cron: "0 3 * * *", branch: "main", timezone: "Europe/Berlin" }]);
    expect(skipped(push)).toEqual(["soak"]);
    expect(skipped(await planned({ event: "schedule", branch: "main" }))).toEqual([]);
  });
});

describe("plan: when and skip propagation", () => {
  it("push to main", async () => {
    const p = await plan("when.yml", { changedFiles: ["src/x.ts"] });
    expect(skipped(p)).toEqual(["on-tag", "pr-only", "manual-only"]);
  });

  it("push to another branch skips main-only and its dependents", async () => {
    const p = await plan("when.yml", { branch: "dev", changedFiles: ["README.md"] });
    expect(skipped(p)).toEqual(["main-only", "on-tag", "pr-only", "manual-only", "src-changed", "after-main", "after-after"]);
  });

  it("tag push: tag matches, branch does not", async () => {
    const p = await plan("when.yml", { branch: null, tag: "v1.2.3" });
    expect(skipped(p)).toEqual(["main-only", "pr-only", "manual-only", "after-main", "after-after"]);
  });

  it("pull_request: branch is the base branch; tag never matches", async () => {
    const p = await plan("when.yml", { event: "pull_request", branch: "feature", tag: null, pullRequest: { number: 3, baseBranch: "main" } });
    expect(skipped(p)).toEqual(["on-tag", "manual-only"]);
  });

  it("manual run", async () => {
    const p = await plan("when.yml", { event: "manual", branch: "main" });
    expect(skipped(p)).toEqual(["on-tag", "pr-only"]);
  });
});

describe("plan: manual inputs", () => {
  const release = (p: Plan): PlannedStage => p.stages.find((s) => s.id === "release") as PlannedStage;

  it("substitutes a manual run's inputs, checked against their types, with defaults, and sets HODEI_INPUT_*", async () => {
    const p = await plan("inputs.yml", { event: "manual", inputs: { version: "1.4.0", "dry-run": "false", replicas: 3 } });
    expect(p.inputProblems).toEqual([]);
    expect(p.inputs).toEqual({ version: "1.4.0", target: "staging", "dry-run": "false", replicas: "3" });
    expect(release(p).commands).toEqual(['echo "release 1.4.0 to $TARGET dry=$HODEI_INPUT_DRY_RUN replicas=3"']);
    expect(release(p).env).toEqual({ HODEI_INPUT_VERSION: "1.4.0", HODEI_INPUT_TARGET: "staging", HODEI_INPUT_DRY_RUN: "false", HODEI_INPUT_REPLICAS: "3", TARGET: "staging" });
  });

  it("names every problem of a manual run's inputs at once", async () => {
    const p = await plan("inputs.yml", { event: "manual", inputs: { target: "moon", "dry-run": "maybe", replicas: "many", colour: "red" } });
    expect(p.inputProblems).toEqual([
      'input "version" is required (the version to release)',
      'input "target" is one of "staging", "production", got "moon"',
      'input "dry-run" is a boolean (true or false), got "maybe"',
      'input "replicas" is a number, got "many"',
      'unknown input "colour": the pipeline declares "version", "target", "dry-run", "replicas"',
    ]);
  });

  it("gives runs of other events the defaults, and an empty string where there is none, without problems", async () => {
    const p = await plan("inputs.yml", { event: "push", inputs: { version: "ignored" } });
    expect(p.inputProblems).toEqual([]);
    expect(p.inputs).toEqual({ version: "", target: "staging", "dry-run": "true", replicas: "" });
    expect(release(p).commands[0]).toBe('echo "release  to $TARGET dry=$HODEI_INPUT_DRY_RUN replicas="');
  });
});
