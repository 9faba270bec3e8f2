import { describe, expect, it } from "vitest";
import { PipelineError, planPipelineSource, validatePipelineSource } from "../../src/pipeline-parser/index.js";
import { context } from "./helpers.js";
import { mutatedFile, rng, seeds } from "./mutate.js";

describe("fuzz: mutated pipeline files", () => {
  it("never crash or hang; every failure is a positioned PipelineError", async () => {
    const base = seeds();
    const next = rng(20240601);
    const started = Date.now();
    let valid = 0;
    let slowest = 0;
    for (let i = 0; i < 3000; i++) {
      const text = mutatedFile(base, i, next);
      const t0 = Date.now();
      const source = { file: "fuzz.yml", text, kind: "yaml" as const };
      const { errors } = await validatePipelineSource(source);
      const lineCount = text.split(/\r\n|\r|\n/).length;
      for (const e of errors) {
        expect(e, `case ${i}: ${text}`).toBeInstanceOf(PipelineError);
        expect(e.line, `case ${i}: ${e.toString()}\n${text}`).toBeGreaterThanOrEqual(1);
        expect(e.column).toBeGreaterThanOrEqual(1);
        expect(e.line, `case ${i}: ${e.toString()}\n${text}`).toBeLessThanOrEqual(lineCount + 1);
        expect(e.message.length).toBeGreaterThan(0);
      }
      if (errors.length === 0) {
        valid++;
        for (const ctx of [context(), context({ event: "pull_request", pullRequest: { number: 1, baseBranch: "main" }, changedFiles: ["src/a"] }), context({ branch: null, tag: "v1" })]) {
          const planned = await planPipelineSource(source, ctx);
          expect(planned.ok, `case ${i}`).toBe(true);
        }
      }
      slowest = Math.max(slowest, Date.now() - t0);
    }
    // Both outcomes must be exercised for the test to mean anything.
    expect(valid).toBeGreaterThan(50);
    expect(valid).toBeLessThan(2900);
    expect(slowest).toBeLessThan(1000);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 30_000);
});
