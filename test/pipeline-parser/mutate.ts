/** Seeded mutations of pipeline files, shared by the fuzz tests. */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { parse, stringify } from "yaml";
import { fixture, repoRoot } from "./helpers.js";

/** mulberry32: a small seeded PRNG, so a failure reproduces from its seed. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKENS = [
  ":", "-", "[", "]", "{", "}", ",", '"', "'", "#", "&a", "*a", "!!str", "\t", "\n", "  ", "|", ">",
  "needs: [build]", "needs: [a, b]", "run: x", "matrix: {k: []}", "matrix: {k: [1, 1]}", "${{ matrix.k }}", "${{ env.X }}",
  "timeout: 0", "timeout: 1h30m", "timeout: 99999999999999999999s", "retries: -1", "provider: docker", "workdir: ../..",
  "when: {branch: ['[x']}", "on: {push: {tags: ['v*']}}", "stages:", "build:", "test:", "a:", "b:", "null", "~", "true",
  "1e309", "0x1F", "\u0000", "\u2028", "é", "<<: *a", "---", "...", "%YAML 1.2",
];

export function mutateText(text: string, next: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  let out = text;
  const rounds = 1 + Math.floor(next() * 4);
  for (let r = 0; r < rounds; r++) {
    const at = Math.floor(next() * (out.length + 1));
    const lines = out.split("\n");
    switch (Math.floor(next() * 6)) {
      case 0:
        out = out.slice(0, at) + pick(TOKENS) + out.slice(at);
        break;
      case 1:
        out = out.slice(0, at) + out.slice(at + 1 + Math.floor(next() * 8));
        break;
      case 2: {
        const i = Math.floor(next() * lines.length);
        lines.splice(i, 0, lines[Math.floor(next() * lines.length)] ?? "");
        out = lines.join("\n");
        break;
      }
      case 3: {
        const i = Math.floor(next() * lines.length);
        const j = Math.floor(next() * lines.length);
        [lines[i], lines[j]] = [lines[j] ?? "", lines[i] ?? ""];
        out = lines.join("\n");
        break;
      }
      case 4: {
        const i = Math.floor(next() * lines.length);
        lines[i] = (next() < 0.5 ? "  " : "") + (lines[i] ?? "").replace(/^ {2}/, next() < 0.5 ? "" : "    ");
        out = lines.join("\n");
        break;
      }
      default:
        out = out.replace(/[a-z_]+/g, (w) => (next() < 0.05 ? pick(["run", "needs", "matrix", "stages", "a", "b", "test", "when", "env"]) : w));
    }
  }
  return out;
}

/** Structural mutation: change, drop or retype a random value of the parsed pipeline. */
export function mutateValue(value: unknown, next: () => number): unknown {
  const replacements: unknown[] = [null, 0, -1, 11, 1.5, "", "x", "../x", "[", [], [""], {}, { run: "y" }, true, "${{ matrix.k }}", ["a", "a"]];
  const walk = (v: unknown, depth: number): unknown => {
    if (next() < 0.08 || depth > 8) return replacements[Math.floor(next() * replacements.length)];
    if (Array.isArray(v)) return v.filter(() => next() > 0.1).map((x) => walk(x, depth + 1));
    if (typeof v === "object" && v !== null) {
      const entries = Object.entries(v).filter(() => next() > 0.1);
      return Object.fromEntries(entries.map(([k, x]) => [next() < 0.03 ? `${k}x` : k, walk(x, depth + 1)]));
    }
    return v;
  };
  return walk(value, 0);
}

/** The text of every YAML fixture under valid/ and errors/. */
export function seeds(): string[] {
  const dirs = ["valid", "errors"].map((d) => path.join(repoRoot, fixture(d)));
  return dirs.flatMap((d) => readdirSync(d).map((f) => readFileSync(path.join(d, f), "utf8")));
}

/**
 * The `i`th mutated file from `base`: every third one re-serialised from a
 * mutated value (`flowPadding`: also vary the flow collections' padding), the
 * others mutated as text.
 */
export function mutatedFile(base: readonly string[], i: number, next: () => number, flowPadding = false): string {
  const seed = base[Math.floor(next() * base.length)] ?? "";
  if (i % 3 !== 0) return mutateText(seed, next);
  let parsed: unknown;
  try {
    parsed = parse(seed);
  } catch {
    parsed = {};
  }
  return stringify(mutateValue(parsed, next), flowPadding ? { flowCollectionPadding: next() < 0.5 } : undefined);
}
