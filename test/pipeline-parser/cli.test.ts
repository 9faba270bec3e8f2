import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { planCommand } from "../../src/cli/commands/plan.js";
import { validateCommand } from "../../src/cli/commands/validate.js";
import { loadPipeline } from "../../src/pipeline-parser/index.js";
import type { Plan } from "../../src/pipeline-parser/types.js";
import { fixture, repoRoot } from "./helpers.js";

function streams(): { stdout: PassThrough; stderr: PassThrough; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: [] as Buffer[], err: [] as Buffer[] };
  stdout.on("data", (c: Buffer) => chunks.out.push(c));
  stderr.on("data", (c: Buffer) => chunks.err.push(c));
  return { stdout, stderr, out: () => Buffer.concat(chunks.out).toString(), err: () => Buffer.concat(chunks.err).toString() };
}

describe("hodei validate", () => {
  it("exits 1 and prints FILE:LINE:COL: message on stderr", async () => {
    const s = streams();
    const file = fixture("errors/unknown-needs.yml");
    expect(await validateCommand({ path: file, json: false, ...s, cwd: repoRoot })).toBe(1);
    expect(s.err()).toBe(`${file}:6:20: stage "test" needs unknown stage "biuld" (did you mean "build"?)\n`);
    expect(s.out()).toBe("");
  });

  it("prints {valid, errors} with --json", async () => {
    const s = streams();
    const file = fixture("errors/cycle.yml");
    expect(await validateCommand({ path: file, json: true, ...s, cwd: repoRoot })).toBe(1);
    expect(JSON.parse(s.out())).toEqual({ valid: false, errors: [{ file, line: 4, column: 13, message: "dependency cycle: a -> b -> c -> a" }] });
  });

  it("prints the schema and the semantic errors of a file in one go, in file order", async () => {
    const s = streams();
    const file = fixture("errors/schema-and-semantic.yml");
    expect(await validateCommand({ path: file, json: false, ...s, cwd: repoRoot })).toBe(1);
    const lines = s.err().trimEnd().split("\n");
    expect(lines).toHaveLength(14);
    for (const line of lines) expect(line).toMatch(new RegExp(`^${file.replace(/[.]/g, "\\.")}:\\d+:\\d+: `));
    expect(lines).toContain(`${file}:4:3: stage "build" is missing required key "run"`);
    expect(lines).toContain(`${file}:9:29: stage "test" needs unknown stage "tset" (did you mean "test"?)`);
    expect(lines).toContain(`${file}:9:35: dependency cycle: test -> package -> test`);
    const j = streams();
    expect(await validateCommand({ path: file, json: true, ...j, cwd: repoRoot })).toBe(1);
    const parsed = JSON.parse(j.out()) as { valid: boolean; errors: { line: number; column: number; message: string }[] };
    expect(parsed.valid).toBe(false);
    expect(parsed.errors.map((e) => `${e.line}:${e.column}: ${e.message}`)).toEqual(lines.map((l) => l.slice(file.length + 1)));
  });

  it("exits 0 for a valid repository directory", async () => {
    const s = streams();
    expect(await validateCommand({ path: fixture("dirs/yaml"), json: true, ...s, cwd: repoRoot })).toBe(0);
    expect(JSON.parse(s.out())).toEqual({ valid: true, errors: [] });
  });

  it("refuses a directory without a pipeline file, and one with two", async () => {
    const none = streams();
    expect(await validateCommand({ path: fixture("dirs/none"), json: false, ...none, cwd: repoRoot })).toBe(1);
    expect(none.err()).toBe(
      `${fixture("dirs/none")}:1:1: no pipeline file: expected .hodei/pipeline.yml, .hodei/pipeline.yaml or .hodei/pipeline.ts\n`,
    );
    const two = streams();
    expect(await validateCommand({ path: fixture("dirs/two"), json: false, ...two, cwd: repoRoot })).toBe(1);
    const yml = `${fixture("dirs/two")}/.hodei/pipeline.yml`;
    const tsFile = `${fixture("dirs/two")}/.hodei/pipeline.ts`;
    expect(two.err()).toBe(`${tsFile}:1:1: more than one pipeline file (${yml}, ${tsFile}); keep exactly one\n`);
  });
});

describe("hodei plan", () => {
  it("plans a manual run with --input NAME=VALUE, and names wrong inputs with exit 1", async () => {
    const ok = streams();
    const file = fixture("valid/inputs.yml");
    expect(await planCommand({ path: file, json: true, event: "manual", inputs: ["version=3.1", "target=production"], ...ok, cwd: repoRoot })).toBe(0);
    expect((JSON.parse(ok.out()) as Plan).stages[0]?.commands).toEqual(['echo "release 3.1 to $TARGET dry=$HODEI_INPUT_DRY_RUN replicas="']);
    const bad = streams();
    expect(await planCommand({ path: file, json: true, event: "manual", inputs: ["target=moon"], ...bad, cwd: repoRoot })).toBe(1);
    expect(bad.err()).toBe('--input: input "version" is required (the version to release)\n--input: input "target" is one of "staging", "production", got "moon"\n');
    await expect(planCommand({ path: file, json: true, event: "push", inputs: ["version=1"], ...streams(), cwd: repoRoot })).rejects.toThrow("--input applies to --event manual only");
    await expect(planCommand({ path: file, json: true, event: "manual", inputs: ["version"], ...streams(), cwd: repoRoot })).rejects.toThrow('--input must be NAME=VALUE, not "version"');
  });

  it("prints the Plan object with --json", async () => {
    const s = streams();
    expect(await planCommand({ path: fixture("dirs/yaml"), json: true, branch: "main", ...s, cwd: repoRoot })).toBe(0);
    const plan = JSON.parse(s.out()) as Plan;
    expect(plan).toEqual({
      name: "yaml-ext",
      triggered: true,
      stages: [
        { id: "a", name: "a", matrix: null, needs: [], skip: false, provider: "local", image: null, commands: ["echo a"], env: {}, secrets: [], artifacts: [], timeoutSeconds: 3600, retries: 0, allowFailure: false, workdir: ".", resources: null, runsOn: [] },
        { id: "b", name: "b", matrix: null, needs: ["a"], skip: false, provider: "local", image: null, commands: ["echo b\necho more\n"], env: {}, secrets: [], artifacts: [], timeoutSeconds: 3600, retries: 0, allowFailure: false, workdir: ".", resources: null, runsOn: [] },
      ],
      schedules: [],
      inputs: {},
      inputProblems: [],
    });
  });

  it("shows a stage's services with --json", async () => {
    const s = streams();
    expect(await planCommand({ path: fixture("valid/services.yml"), json: true, branch: "main", ...s, cwd: repoRoot })).toBe(0);
    const plan = JSON.parse(s.out()) as Plan;
    expect(plan.stages.find((st) => st.id === "inherits")?.services).toEqual([
      { name: "cache", image: "redis:7", env: {}, command: null, ports: [6379], ready: { port: 6379 }, readyTimeoutSeconds: 60 },
    ]);
  });

  it("shows the schedules, in --json and in the table, and plans --event schedule", async () => {
    const s = streams();
    expect(await planCommand({ path: fixture("valid/schedule.yml"), json: true, branch: "main", event: "schedule", ...s, cwd: repoRoot })).toBe(0);
    const plan = JSON.parse(s.out()) as Plan;
    expect(plan.triggered).toBe(true);
    expect(plan.stages.map((st) => [st.id, st.skip])).toEqual([["build", false], ["long-tests", false]]);
    expect(plan.schedules).toEqual([
      { cron: "0 3 * * *", branch: "main", timezone: "Europe/Berlin" },
      { cron: "30 1 * * MON-FRI", branch: "release", timezone: "UTC" },
    ]);
    const t = streams();
    expect(await planCommand({ path: fixture("valid/schedule.yml"), json: false, branch: "dev", ...t, cwd: repoRoot })).toBe(0);
    expect(t.out()).toBe('pipeline nightly: not triggered by push on dev\nschedule: "0 3 * * *" (Europe/Berlin) runs main\nschedule: "30 1 * * MON-FRI" (UTC) runs release\n');
  });

  it("takes event, branch, tag and changed files", async () => {
    const s = streams();
    await planCommand({ path: fixture("valid/spec-example.yml"), json: true, event: "push", branch: "main", changed: "docs/a.md, docs/b.md", ...s, cwd: repoRoot });
    expect((JSON.parse(s.out()) as Plan).triggered).toBe(false);
    const t = streams();
    await planCommand({ path: fixture("valid/spec-example.yml"), json: true, tag: "v1.0.0", ...t, cwd: repoRoot });
    const tagged = JSON.parse(t.out()) as Plan;
    expect(tagged.stages.filter((st) => st.skip).map((st) => st.id)).toEqual([
      "test[node=18,db=pg]", "test[node=18,db=pglite]", "test[node=20,db=pg]", "test[node=20,db=pglite]", "publish",
    ]);
  });

  it("prints a table without --json", async () => {
    const s = streams();
    expect(await planCommand({ path: fixture("valid/matrix-fanin.yml"), json: false, branch: "main", ...s, cwd: repoRoot })).toBe(0);
    const lines = s.out().split("\n");
    expect(lines[0]).toBe("pipeline matrix: 9 stages for push on main");
    expect(lines[1]).toMatch(/^STAGE\s+NEEDS\s+PROVIDER\s+COMMANDS$/);
    expect(lines.find((l) => l.startsWith("report "))).toMatch(/^report\s+test\s+run\s+local\s+echo report$/);
    expect(lines.find((l) => l.startsWith("test[os=win,node=18]"))).toMatch(/build\s+run\s+local\s+echo win; node-18$/);
  });

  it("exits 1 with positioned errors for a broken file", async () => {
    const s = streams();
    expect(await planCommand({ path: fixture("errors/duplicate-key.yml"), json: true, ...s, cwd: repoRoot })).toBe(1);
    expect(s.err()).toBe(`${fixture("errors/duplicate-key.yml")}:6:3: duplicate key "build"\n`);
  });

  it("refuses an unknown event as a usage error", async () => {
    const s = streams();
    await expect(planCommand({ path: fixture("dirs/yaml"), json: true, event: "tag", ...s, cwd: repoRoot })).rejects.toMatchObject({ exitCode: 2 });
  });
});

describe("loadPipeline", () => {
  it("returns a checked YAML definition, or the source of a TS pipeline", async () => {
    const yaml = await loadPipeline(fixture("dirs/yaml"), { cwd: repoRoot });
    expect(yaml.ok && yaml.kind === "yaml" && yaml.definition.name).toBe("yaml-ext");
    const ts = await loadPipeline(fixture("ts/spec"), { cwd: repoRoot });
    expect(ts.ok && ts.kind === "ts" && ts.definition.file).toBe(`${fixture("ts/spec")}/.hodei/pipeline.ts`);
  });
});
