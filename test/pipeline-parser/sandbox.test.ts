import { describe, expect, it } from "vitest";
import { planPipeline, planPipelineSource, type PlanResult } from "../../src/pipeline-parser/index.js";
import type { TriggerContext } from "../../src/pipeline-parser/types.js";
import { DEFAULT_LIMITS, runInSandbox } from "../../src/pipeline-parser/ts-sandbox.js";
import { context, fixture, repoRoot } from "./helpers.js";

const ts = (name: string): string => fixture(`ts/${name}/.hodei/pipeline.ts`);

async function planTs(name: string, ctx: Partial<TriggerContext> = {}): Promise<{ result: PlanResult; ms: number }> {
  const started = Date.now();
  const result = await planPipeline(fixture(`ts/${name}`), context(ctx), { cwd: repoRoot });
  return { result, ms: Date.now() - started };
}

async function errorsOf(name: string): Promise<string[]> {
  const { result, ms } = await planTs(name);
  expect(ms).toBeLessThan(2000);
  if (result.ok) throw new Error(`${name} planned without error`);
  return result.errors.map(String);
}

describe(".hodei/pipeline.ts", () => {
  it("evaluates the SPEC example with ctx and relative imports", async () => {
    const main = await planTs("spec", { branch: "main" });
    if (!main.result.ok) throw new Error(main.result.errors.join("\n"));
    expect(main.result.plan.stages.map((s) => s.id)).toEqual(["test[node=18]", "test[node=20]", "test[node=22]", "lint"]);
    expect(main.result.plan.stages[3]?.commands).toEqual(["lint widgets"]);
    const dev = await planTs("spec", { branch: "dev" });
    expect(dev.result.ok && dev.result.plan.stages.map((s) => s.id)).toEqual(["test[node=20]", "lint"]);
  });

  it("sees ctx.event schedule in a scheduled run, and declares its schedules in on.schedule", async () => {
    const push = await planTs("schedule", { event: "push", branch: "main" });
    expect(push.result.ok && push.result.plan).toMatchObject({ stages: [{ id: "build" }], schedules: [{ cron: "0 3 * * *", branch: "main", timezone: "Europe/Berlin" }] });
    const nightly = await planTs("schedule", { event: "schedule", branch: "main" });
    expect(nightly.result.ok && nightly.result.plan).toMatchObject({ triggered: true, stages: [{ id: "soak", commands: ["make soak"] }] });
  });

  it("accepts a promise of a pipeline object", async () => {
    const { result } = await planTs("async-object");
    expect(result.ok && result.plan.stages.map((s) => s.id)).toEqual(["build"]);
  });

  it("maps a thrown error back to its line in the source", async () => {
    expect(await errorsOf("throws")).toEqual([`${ts("throws")}:5:15: Error: no pushes, please`]);
  });

  it("applies the schema to the result, pointing at the key when it is unambiguous", async () => {
    expect(await errorsOf("schema-error")).toEqual([`${ts("schema-error")}:3:27: "retries" must be an integer between 0 and 10`]);
  });

  it("reports a schema error and a semantic error elsewhere in the result together", async () => {
    expect(await errorsOf("schema-and-needs")).toEqual([
      `${ts("schema-and-needs")}:3:27: "retries" must be an integer between 0 and 10`,
      `${ts("schema-and-needs")}:4:31: stage "test" needs unknown stage "buidl" (did you mean "build"?)`,
    ]);
  });

  it("reports syntax errors with esbuild's position", async () => {
    expect(await errorsOf("syntax")).toEqual([`${ts("syntax")}:2:1: Expected "}" but found end of file`]);
  });

  it("refuses imports of Node modules and files outside .hodei/ at the import", async () => {
    const dir = (n: string): string => fixture(`ts/${n}/.hodei`);
    expect(await errorsOf("read-file")).toEqual([
      `${ts("read-file")}:1:30: cannot import "fs": a pipeline may import only "hodei" and relative modules under ${dir("read-file")}/`,
    ]);
    expect(await errorsOf("require-node")).toEqual([
      `${ts("require-node")}:2:20: cannot import "child_process": a pipeline may import only "hodei" and relative modules under ${dir("require-node")}/`,
    ]);
    expect(await errorsOf("outside-import")).toEqual([`${ts("outside-import")}:1:20: cannot import "../../secret": it is outside ${dir("outside-import")}/`]);
  });

  it("has no process, fetch, timers, clock or randomness", async () => {
    expect(await errorsOf("reach-process")).toEqual([`${ts("reach-process")}:2:42: ReferenceError: 'process' is not defined`]);
    expect(await errorsOf("fetch")).toEqual([`${ts("fetch")}:3:9: ReferenceError: 'fetch' is not defined`]);
    expect(await errorsOf("timers")).toEqual([`${ts("timers")}:2:41: ReferenceError: 'setTimeout' is not defined`]);
    expect(await errorsOf("date")).toEqual([`${ts("date")}:1:49: ReferenceError: 'Date' is not defined`]);
    expect(await errorsOf("clock")).toEqual([
      `${ts("clock")}:1:54: Error: Math.random is not available in a pipeline file: the pipeline must depend on ctx only`,
    ]);
  });

  it("cannot escape through constructor chains or globalThis", async () => {
    expect(await errorsOf("constructor-escape")).toEqual([`${ts("constructor-escape")}:1:39: ReferenceError: 'process' is not defined`]);
    const { result } = await planTs("globalthis-escape");
    expect(result.ok && result.plan.stages[0]?.commands).toEqual(["found:"]);
  });

  it("stops an infinite loop, a microtask loop, a memory bomb and deep recursion", async () => {
    expect(await errorsOf("infinite-loop")).toEqual([`${ts("infinite-loop")}:1:1: the pipeline file exceeded its 1000 ms CPU limit`]);
    const microtasks = await errorsOf("microtask-loop");
    expect(microtasks[0]).toMatch(/exceeded its (1000 ms CPU|64 MiB memory) limit$/);
    // Under load the 1 s deadline may come first; the memory limit alone is tested below.
    expect(await errorsOf("memory-bomb")).toEqual([expect.stringMatching(/:1:1: the pipeline file exceeded its (64 MiB memory|1000 ms CPU) limit$/)]);
    expect(await errorsOf("deep-recursion")).toEqual([`${ts("deep-recursion")}:1:37: InternalError: stack overflow`]);
  });

  it("enforces the memory limit on its own, including large arrays", async () => {
    const before = process.memoryUsage().rss;
    for (const bomb of ["for (;;) hog.push(new Array(100000).fill('xxxxxxxx'));", "for (;;) hog.push('x'.repeat(1 << 20) + hog.length);"]) {
      const code = `var __hodei = { default: () => { const hog = []; ${bomb} } };`;
      const result = await runInSandbox(code, context(), { ...DEFAULT_LIMITS, cpuMilliseconds: 20_000 });
      expect(result).toEqual({ ok: false, failure: { kind: "memory-limit", message: "the pipeline file exceeded its 64 MiB memory limit" } });
    }
    // The WASM memory is capped near the limit, so the host grows by far less than a runaway heap would.
    expect(process.memoryUsage().rss - before).toBeLessThan(400 * 1024 * 1024);
  });

  it("caps the size of the result", async () => {
    expect(await errorsOf("big-result")).toEqual([
      `${ts("big-result")}:1:1: the pipeline object is too large as JSON (10.0 MiB; the limit is 1.0 MiB)`,
    ]);
  });

  it("ends a promise that never settles", async () => {
    expect(await errorsOf("never-resolves")).toEqual([`${ts("never-resolves")}:1:1: the pipeline's promise never settles`]);
  });

  it("requires a default export", async () => {
    expect(await errorsOf("no-default")).toEqual([
      `${ts("no-default")}:1:1: TypeError: the pipeline file has no default export: export default definePipeline(...)`,
    ]);
  });

  it("leaves the host unharmed", async () => {
    await errorsOf("memory-bomb");
    await errorsOf("infinite-loop");
    expect(typeof process.env.PATH).toBe("string");
    expect(globalThis.Date.now()).toBeGreaterThan(0);
    const { result } = await planTs("async-object");
    expect(result.ok).toBe(true);
  });

  it("plans an in-memory source whose modules come from a reader", async () => {
    const modules: Record<string, string> = { ".hodei/lib/names.ts": 'export const names = ["a", "b"];\n' };
    const result = await planPipelineSource(
      {
        file: ".hodei/pipeline.ts",
        kind: "ts",
        text: 'import { names } from "./lib/names";\nexport default { stages: Object.fromEntries(names.map((n) => [n, { run: `echo ${n}` }])) };\n',
        readModule: (p) => Promise.resolve(modules[p] ?? null),
      },
      context(),
    );
    expect(result.ok && result.plan.stages.map((s) => s.commands[0])).toEqual(["echo a", "echo b"]);
  });
});
