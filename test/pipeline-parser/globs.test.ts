import picomatch from "picomatch";
import { describe, expect, it } from "vitest";
import { globProblem } from "../../src/pipeline-parser/globs.js";
import { rng } from "./mutate.js";

describe("glob checks", () => {
  it("agree with picomatch on every pattern, including those checked without it", () => {
    const next = rng(3);
    const alphabet = ["a", "Z", "0", "_", ".", "/", "*", "**", "-", "[", "]", "{", "}", "(", ")", "!", "?", "+", "@", "\\", ",", " ", "é"];
    const patterns = ["main", "release/**", "v*", "src/**/*.ts", "dist/", "*", "**", ".", "a-b_c"];
    for (let i = 0; i < 3000; i++) {
      const length = 1 + Math.floor(next() * 8);
      patterns.push(Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join(""));
    }
    let refused = 0;
    for (const pattern of patterns) {
      let expected: string | null = null;
      try {
        picomatch.makeRe(pattern, { dot: true, strictBrackets: true });
      } catch (e) {
        expected = (e as Error).message;
      }
      if (pattern.trim() === "") expected = "a glob must not be empty";
      expect(globProblem(pattern), JSON.stringify(pattern)).toBe(expected);
      if (expected !== null) refused++;
    }
    expect(refused).toBeGreaterThan(100);
  });
});
