import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { ValidateFunction } from "ajv";
import { pipelineSchemaUrl } from "../../src/pipeline-parser/schema.js";
import { pipelineValidator } from "../../src/pipeline-parser/schema-validator.js";
import { mutateValue, rng, seeds } from "./mutate.js";

// The validator scripts/build-cli.mjs precompiles (ajv standalone) into the CLI bundle.
const standaloneUrl = new URL("../../dist/pipeline-parser/schema-validator.standalone.js", import.meta.url);

async function standalone(): Promise<{ validate: ValidateFunction; schemaSha256: string }> {
  if (!existsSync(standaloneUrl)) throw new Error(`${fileURLToPath(standaloneUrl)} is missing: run \`npm run build\` (npm test does it)`);
  return (await import(standaloneUrl.href)) as { validate: ValidateFunction; schemaSha256: string };
}

/** ajv's result for a value: validity and every error, with the schema objects it points at. */
function outcome(validate: ValidateFunction, value: unknown): unknown {
  const valid = validate(value);
  return { valid, errors: validate.errors ?? [] };
}

describe("the precompiled schema validator", () => {
  it("is built from the current schemas/pipeline.schema.json", async () => {
    const { schemaSha256 } = await standalone();
    expect(schemaSha256).toBe(createHash("sha256").update(readFileSync(pipelineSchemaUrl)).digest("hex"));
  });

  it("agrees with the validator ajv compiles at run time, error for error", async () => {
    const { validate } = await standalone();
    const runtime = pipelineValidator();
    const values: unknown[] = seeds().map((text) => {
      try {
        return parse(text) as unknown;
      } catch {
        return {};
      }
    });
    const next = rng(11);
    const base = [...values];
    for (let i = 0; i < 1500; i++) values.push(mutateValue(base[Math.floor(next() * base.length)], next));
    let invalid = 0;
    for (const [i, value] of values.entries()) {
      const expected = outcome(runtime, value);
      expect(outcome(validate, value), `value ${i}: ${JSON.stringify(value)}`).toEqual(expected);
      if (!(expected as { valid: boolean }).valid) invalid++;
    }
    // Both outcomes must be exercised.
    expect(invalid).toBeGreaterThan(100);
    expect(invalid).toBeLessThan(values.length - 20);
  }, 60_000);
});
