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
    // A semantic error next to schema errors: reported with them, not after they are fixed.
    '6:14: "timeout" must be greater than zero',
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
    '11:27: "event" must be a list of distinct events: "push", "pull_request", "manual" or "schedule"',
  ],
  "inputs.yml": [
    '5:15: input "env" is a choice and needs "options"',
    '8:18: the default does not fit: input "level" is a number, got "high"',
    '11:18: "options" apply to inputs of type choice only (input "dry-run" is a boolean)',
    '15:18: the default does not fit: input "flavour" is one of "vanilla", "chocolate", got "strawberry"',
    '18:14: ${{ inputs.NAME }} is not substituted in "workdir": where a stage runs comes from the file, not from a run\'s inputs',
    '19:10: unknown input "version" in "${{ inputs.version }}" (inputs: env, level, dry-run, flavour)',
    '21:14: ${{ inputs.NAME }} is not substituted in "runs-on": where a stage runs comes from the file, not from a run\'s inputs',
    // Secret names take no expression at all (the schema): which secrets a stage gets is the file's.
    '24:15: "secrets" must be a list of distinct secret names (letters, digits and _, not starting with a digit)',
  ],
  // A declaration the schema rejected: references to inputs are not judged (no "unknown input" for inputs.other).
  "inputs-schema.yml": [
    '5:9: unknown key "requird" in "on.manual.inputs.note" (did you mean "required"?)',
    '6:7: invalid input name "bad name": use letters, digits, - and _, not starting with a digit',
    '7:15: "type" of input "bad name" must be one of "string", "number", "boolean" or "choice"',
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
  "services.yml": [
    '4:5: stage "local" runs on provider "local": "services" run beside docker and kubernetes stages only (add provider: docker and an image)',
    '10:7: invalid service name "Db": a service is reached by its name, so use a DNS label (lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters)',
    '11:35: "command" must be a non-empty string or a non-empty list of strings',
    '11:38: unknown key "portz" in "services.nocmd" of stage "shape" (did you mean "ports"?)',
    '12:7: "services.noimage" of stage "shape" is missing required key "image"',
    '12:32: "ports" must be a list of distinct port numbers (1 to 65535)',
    '13:25: "ready" of service "both" takes either "command" or "port", not both',
    '14:28: "ready" of service "neither" needs "command" or "port" (or the service needs "ports")',
    '15:35: "command" of service "quote" has an unterminated quote or a trailing backslash',
    '15:77: "timeout" must be a duration such as 90s, 10m or 1h30m, or a positive integer number of seconds',
    '16:24: "${{ matrix.pg }}" used in a stage without a matrix',
    '21:42: service name "agent" is taken on kubernetes by the stage\'s own container (stage "kube"): choose another',
  ],
  // Schema errors do not hide semantic ones: each rule checks what the schema accepted. Positions of
  // items after a bad one in the same list (9:29, 9:35) stay right; what only follows from a rejected
  // value (the empty matrix's ${{ matrix.node }}, "needs" of the stages that are not valid) is not reported.
  "schema-and-semantic.yml": [
    '1:1: unknown key "onn" at the top level (did you mean "on"?)',
    '2:23: "provider" must be one of "local", "docker" or "kubernetes"',
    '4:3: stage "build" is missing required key "run"',
    '5:5: unknown key "runs" in stage "build" (did you mean "run"?)',
    '6:9: stage "lint" must be a mapping with a "run" key',
    '9:13: "needs" must be a list of distinct stage names',
    '9:29: stage "test" needs unknown stage "tset" (did you mean "test"?)',
    "9:35: dependency cycle: test -> package -> test",
    '10:21: matrix axis "node" of stage "test" must not be empty',
    '15:14: "timeout" must be a duration such as 90s, 10m or 1h30m, or a positive integer number of seconds',
    '16:22: invalid glob "[main": Missing closing: "]" - use "\\\\]" to match literal characters',
    '16:46: "event" must be a list of distinct events: "push", "pull_request", "manual" or "schedule"',
    '18:10: "${{ matrix.env }}" used in a stage without a matrix',
    '20:14: workdir "../up" must be a relative path inside the checkout',
  ],
  "matrix-strategy.yml": [
    '5:19: unknown matrix axis "nod" in "exclude" of stage "a" (did you mean "node"? matrix axes: node)',
    '8:36: "include" of the matrix of stage "b" must be a non-empty list of mappings of matrix keys to strings, numbers or booleans',
    '11:37: an entry of "include" of the matrix of stage "c" must be a mapping of matrix keys to strings, numbers or booleans',
    '11:49: matrix value "node" must be a string, number or boolean',
    '12:19: "max-parallel" must be a positive integer',
    '13:16: "fail-fast" must be true or false',
    '17:5: "fail-fast" applies only to a stage with a matrix',
    '18:5: "max-parallel" applies only to a stage with a matrix',
    '20:5: the matrix of stage "e" expands to no instances: "exclude" leaves out every combination',
    '23:39: the matrix of stage "f" has the combination {"node":"22"} twice',
  ],
  "when-status.yml": [
    '4:13: "status" of stage "a" needs "needs": a stage that needs nothing has no outcome to run on',
    '8:21: "status" must be always, or a list of distinct outcomes: "success" or "failure"',
    '12:31: "status" must be always, or a list of distinct outcomes: "success" or "failure"',
    // Its only need was rejected by the schema: not also "needs nothing".
    '14:13: "needs" must be a list of distinct stage names',
  ],
  // on.schedule: croner's reading of each cron, IANA time zones, and the schema's keys, all at once.
  "schedule.yml": [
    '3:13: cron "0 3 * *" must have five fields (minute hour day-of-month month day-of-week), not 4',
    '5:13: invalid cron "61 3 * * *": Invalid value for minute: 61',
    '10:17: unknown time zone "Europe/Berln" (did you mean "Europe/Berlin"?): use an IANA name such as "Europe/Berlin" or "UTC"',
    '11:13: cron "@daily" must have five fields (minute hour day-of-month month day-of-week), not 1 (nicknames such as @daily are not supported: write "0 0 * * *")',
    '13:7: "on.schedule.4" is missing required key "branch"',
    '14:7: unknown key "brnch" in "on.schedule.4" (did you mean "branch"?)',
    '16:15: "branch" of a schedule must be a branch name (not a glob: no spaces, *, ?, [, ], ~, ^, : or \\)',
    '19:17: unknown time zone "+01:00": use an IANA name such as "Europe/Berlin" or "UTC"',
    '22:7: schedule "0  5 * * *" of branch "main" is listed twice',
    '24:13: cron "0 3 ? * *": "?" is not supported; use "*"',
    '28:21: "event" must be a list of distinct events: "push", "pull_request", "manual" or "schedule"',
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
