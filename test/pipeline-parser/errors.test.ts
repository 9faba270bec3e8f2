import { describe, expect, it } from "vitest";
import { PipelineError, validatePipeline } from "../../src/pipeline-parser/index.js";
import { fixture, repoRoot } from "./helpers.js";

// Every error kind of SPEC section 1, with the exact line and column of the offending node.
const cases: Record<string, string[]> = {
  "unknown-key.yml": [
    '2:3: stage "build" is missing required key "run"',
    '3:5: unknown key "runs" in stage "build" (did you mean "run"?)',
  ],
  "retries.yml": ['4:14: "retries" must be an integer between 0 and 10', '7:14: "retries" must be an integer between 0 and 10'],
  "unknown-needs.yml": ['6:20: stage "test" needs unknown stage "biuld" (did you mean "build"?)'],
  "cycle.yml": ["4:13: dependency cycle: a -> b -> c -> a"],
  "bad-duration.yml": [
    '2:12: "timeout" must be a duration such as 90s, 10m or 1h30m, or a positive integer number of seconds',
    '9:14: "timeout" must be a duration such as 90s, 10m or 1h30m, or a positive integer number of seconds',
  ],
  "zero-timeout.yml": ['4:14: "timeout" must be greater than zero', '7:14: "timeout" must be greater than zero'],
  "bad-glob.yml": [
    '3:16: invalid glob "[main": Missing closing: "]" - use "\\\\]" to match literal characters',
    '7:17: invalid glob "dist/{a": Missing closing: "}" - use "\\\\}" to match literal characters',
    '9:25: invalid glob "src/(x": Missing closing: ")" - use "\\\\)" to match literal characters',
  ],
  "empty-matrix.yml": [
    '5:13: matrix axis "node" of stage "test" must not be empty',
    '9:13: "matrix" of stage "other" must have at least one axis',
  ],
  "workdir-escape.yml": [
    '4:14: workdir "../outside" must be a relative path inside the checkout',
    '7:14: workdir "/etc" must be a relative path inside the checkout',
  ],
  "duplicate-key.yml": ['6:3: duplicate key "build"'],
  "stage-name.yml": [
    '2:3: invalid stage name "Build": use lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters',
    '4:3: invalid stage name "-x": use lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters',
  ],
  "matrix-key.yml": [
    '4:12: unknown matrix key "nod" in "${{ matrix.nod }}" (matrix keys: node)',
    '8:10: "${{ matrix.node }}" used in a stage without a matrix',
  ],
  "image-required.yml": [
    '4:3: stage "build" runs on provider "docker" and needs an "image"',
    '8:15: stage "test" runs on provider "kubernetes" and needs an "image"',
  ],
  "syntax.yml": ["4:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]"],
  "many.yml": [
    '2:1: unknown key "onn" at the top level (did you mean "on"?)',
    '7:15: "provider" must be one of "local", "docker" or "kubernetes"',
    '8:20: "allow_failure" must be true or false',
    '9:12: invalid environment variable name "1X": use letters, digits and _, not starting with a digit',
    '9:25: env value "OK" must be a string, number or boolean',
    '10:26: duplicate entry "NPM_TOKEN" in "secrets" of stage "build"',
    '11:27: "event" must be a list of distinct events: "push", "pull_request" or "manual"',
  ],
  "resources-runs-on.yml": [
    '4:5: stage "build" runs on provider "local": "resources" apply to docker and kubernetes stages only',
    '9:5: stage "gpu" runs on provider "docker": "runs-on" picks among agents, so it applies to local stages only',
    '14:26: memory "1m" is below the minimum of 6m',
    '18:20: runs-on label "arch=arm 64" is not KEY or KEY=VALUE (KEY: letters, digits, _ . / -; VALUE: no spaces)',
    '23:26: memory "lots" is not a size like 512m or 2g',
  ],
  "resources-keys.yml": [
    '6:18: unknown key "cpu" in "resources" of stage "typo" (did you mean "cpus"?)',
    '11:24: "cpus" must be a number of CPUs greater than 0, at most 1024',
    '12:14: "runs-on" must be an agent label (KEY or KEY=VALUE) or a non-empty list of distinct labels',
  ],
  "empty.yml": ['1:1: the pipeline must be a mapping with a "stages" key'],
  "no-stages.yml": ['1:9: "stages" must define at least one stage'],
};

describe("pipeline errors", () => {
  for (const [name, expected] of Object.entries(cases)) {
    it(`reports ${name} as FILE:LINE:COL: message`, async () => {
      const file = fixture(`errors/${name}`);
      const { errors } = await validatePipeline(file, undefined, { cwd: repoRoot });
      expect(errors.map(String)).toEqual(expected.map((e) => `${file}:${e}`));
      for (const e of errors) expect(e).toBeInstanceOf(PipelineError);
    });
  }

  it("carries file, line and column as data", async () => {
    const file = fixture("errors/cycle.yml");
    const { errors } = await validatePipeline(file, undefined, { cwd: repoRoot });
    expect(errors[0]?.toJSON()).toEqual({ file, line: 4, column: 13, message: "dependency cycle: a -> b -> c -> a" });
  });

  it("accepts a valid pipeline", async () => {
    const { errors } = await validatePipeline(fixture("valid/spec-example.yml"), undefined, { cwd: repoRoot });
    expect(errors).toEqual([]);
  });
});
