import { describe, expect, it } from "vitest";
import type { PathSegment } from "../../src/pipeline-parser/source-doc.js";
import { readPlainYaml } from "../../src/pipeline-parser/yaml-plain.js";
import { fullYamlSource } from "../../src/pipeline-parser/yaml-full.js";
import { plainYamlSource } from "../../src/pipeline-parser/yaml-source.js";
import { mutatedFile, rng, seeds } from "./mutate.js";

/** Every path in a value, plus a few that leave it (a missing key, an index past the end). */
function pathsOf(value: unknown, prefix: PathSegment[] = []): PathSegment[][] {
  const out: PathSegment[][] = [prefix, [...prefix, "missing"], [...prefix, 99]];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i]), [...prefix, String(i)]));
  else if (typeof value === "object" && value !== null) for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}

/** The fast reader's result must be the full parser's, value and every position; returns whether it read the text. */
function agrees(text: string, label: string): boolean {
  const fast = plainYamlSource("p.yml", text);
  if (fast === null) return false;
  const full = fullYamlSource("p.yml", text);
  expect(full.ok, `${label}: the full parser rejects what the fast reader read\n${text}`).toBe(true);
  if (!fast.ok || !full.ok) throw new Error(`${label}: the fast reader failed on\n${text}`);
  expect(fast.doc.value, `${label}\n${text}`).toStrictEqual(full.doc.value);
  for (const path of pathsOf(full.doc.value)) {
    for (const target of ["key", "value"] as const) {
      expect(fast.doc.locate(path, target), `${label}: ${target} of ${JSON.stringify(path)}\n${text}`).toEqual(full.doc.locate(path, target));
    }
  }
  return true;
}

function bigPipeline(stages: number): string {
  const lines = ["# generated", "name: big", "env: { NODE_ENV: test, N: 3 }", "defaults: { timeout: 10m, retries: 1 }", "stages:"];
  for (let i = 0; i < stages; i++) {
    lines.push(`  s${i}:`, `    run: [echo stage ${i}, "test -d ."]`);
    if (i > 0) lines.push(`    needs: [s${Math.floor((i - 1) / 2)}]`);
    lines.push(`    env: { INDEX: "${i}", N: ${i} }  # trailing comment`);
    if (i % 10 === 0) lines.push("    when:", "      branch:", "      - main", '      - "release/**"');
    if (i % 7 === 0) lines.push("    matrix:", "      node: [18, '20', 22]", "    allow_failure: true", "    workdir:");
  }
  return lines.join("\n") + "\n";
}

describe("the fast YAML reader", () => {
  it("reads the usual pipeline file exactly as the yaml library does", () => {
    expect(agrees(bigPipeline(60), "big pipeline")).toBe(true);
  });

  it("agrees with the yaml library on every fixture it reads", () => {
    const read = seeds().filter((text, i) => agrees(text, `fixture ${i}`));
    // The valid fixtures are plain YAML: most fixtures must take the fast path.
    expect(read.length).toBeGreaterThan(seeds().length / 2);
  });

  it("leaves anything outside its subset to the yaml library", () => {
    const outside = [
      "a: &x 1\nb: *x\n", // anchors and aliases
      "a: !!str 1\n", // tags
      "a: |\n  text\n", // block scalars
      "a: one\n  two\n", // a multi-line plain scalar
      'a: "x\\ty"\n', // escapes
      "a: 1\na: 2\n", // a duplicate key: an error the full parser reports
      "a: 1.10\n", // floats keep their written form through the full parser
      "a: 0x1F\n",
      "a: [b,\n  c]\n", // a multi-line flow collection
      "--- \na: 1\n",
      "a:\tb\n",
      "a: é\n",
      "- a\n", // a top-level sequence
      "",
      "a: b: c\n", // an error
      "__proto__: 1\n",
      "1: a\n",
    ];
    for (const text of outside) expect(readPlainYaml(text), JSON.stringify(text)).toBeNull();
  });

  it("agrees with the yaml library on thousands of mutated files", () => {
    const base = seeds();
    base.push(bigPipeline(12));
    const next = rng(7);
    let read = 0;
    for (let i = 0; i < 2500; i++) {
      const text = mutatedFile(base, i, next, true);
      if (agrees(text, `case ${i}`)) read++;
    }
    // Both paths must be exercised for this to mean anything.
    expect(read).toBeGreaterThan(600);
    expect(read).toBeLessThan(2400);
  }, 120_000);
});
