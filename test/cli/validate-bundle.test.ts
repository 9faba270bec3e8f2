/**
 * `bin/hodei.js` runs the CLI bundle (scripts/build-cli.mjs: validate, plan
 * and the pipeline parser bundled, the schema validator precompiled). Its
 * output and exit codes must be those of the source it is built from.
 */
import { readdirSync } from "node:fs";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { planCommand } from "../../src/cli/commands/plan.js";
import { validateCommand } from "../../src/cli/commands/validate.js";
import { repoRoot, runHodei, type CliResult } from "../helpers/hodei-cli.js";

const fixtures = "test/fixtures/pipelines";

async function inProcess(run: (s: { stdout: PassThrough; stderr: PassThrough }) => Promise<number>): Promise<CliResult> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (b: Buffer) => (out += b.toString()));
  stderr.on("data", (b: Buffer) => (err += b.toString()));
  const code = await run({ stdout, stderr });
  return { code, stdout: out, stderr: err };
}

describe("the built hodei command", () => {
  it("validates every fixture exactly as the source does, plain and --json", async () => {
    const paths = [
      ...["valid", "errors"].flatMap((d) => readdirSync(`${repoRoot}/${fixtures}/${d}`).map((f) => `${fixtures}/${d}/${f}`)),
      ...["yaml", "none", "two"].map((d) => `${fixtures}/dirs/${d}`),
      ...["spec", "throws", "schema-error", "schema-and-needs", "syntax"].map((d) => `${fixtures}/ts/${d}`),
      `${fixtures}/missing.yml`,
    ];
    let failed = 0;
    for (const path of paths) {
      for (const json of [false, true]) {
        const built = await runHodei(["validate", ...(json ? ["--json"] : []), path]);
        const source = await inProcess((s) => validateCommand({ path, json, ...s, cwd: repoRoot }));
        expect(built, `hodei validate ${json ? "--json " : ""}${path}`).toEqual(source);
        if (source.code === 1) failed++;
      }
    }
    expect(failed).toBeGreaterThan(20);
  }, 180_000);

  it("plans as the source does", async () => {
    const path = `${fixtures}/valid/spec-example.yml`;
    const built = await runHodei(["plan", "--json", "--branch", "main", path]);
    const source = await inProcess((s) => planCommand({ path, json: true, branch: "main", event: "push", ...s, cwd: repoRoot }));
    expect(built).toEqual(source);
    expect(built.code).toBe(0);
  });

  it("answers usage errors with exit 2", async () => {
    const r = await runHodei(["validate", "a", "b"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("too many arguments");
  });
});
