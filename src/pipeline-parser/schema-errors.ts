import type { ErrorObject } from "ajv";
import { PipelineError } from "./errors.js";
import { pointerToPath, type SourceDoc } from "./source-doc.js";
import { suggest } from "./suggest.js";

/** What a value under a given key must be, in words; used for every type/range/format error. */
const EXPECTED: Record<string, string> = {
  name: "a non-empty string of at most 100 characters",
  on: "a mapping with push, pull_request, manual or schedule",
  push: "a mapping (branches, tags, paths, paths-ignore) or empty",
  pull_request: "a mapping (branches, paths, paths-ignore) or empty",
  manual: "empty, or a mapping with inputs",
  inputs: "a mapping of input names to inputs (type, description, required, default, options)",
  schedule: "a non-empty list of schedules, each a mapping with cron, branch and (optionally) timezone",
  cron: 'a cron expression of five fields, such as "0 3 * * *"',
  timezone: 'an IANA time zone name, such as "Europe/Berlin"',
  branches: "a list of glob patterns",
  tags: "a list of glob patterns",
  paths: "a list of glob patterns",
  "paths-ignore": "a list of glob patterns",
  branch: "a list of glob patterns",
  tag: "a list of glob patterns",
  env: "a mapping of variable names to strings, numbers or booleans",
  defaults: "a mapping of stage keys",
  stages: "a mapping of stage names to stages",
  run: "a string or a non-empty list of commands",
  needs: "a list of distinct stage names",
  matrix: "a mapping of axis names to lists of values",
  when: "a mapping with event, branch, tag, paths or status",
  status: 'always, or a list of distinct outcomes: "success" or "failure"',
  event: 'a list of distinct events: "push", "pull_request", "manual" or "schedule"',
  provider: 'one of "local", "docker" or "kubernetes"',
  image: "a non-empty string",
  timeout: "a duration such as 90s, 10m or 1h30m, or a positive integer number of seconds",
  retries: "an integer between 0 and 10",
  secrets: "a list of distinct secret names (letters, digits and _, not starting with a digit)",
  artifacts: "a list of glob patterns",
  allow_failure: "true or false",
  "fail-fast": "true or false",
  "max-parallel": "a positive integer",
  workdir: "a non-empty relative path",
  resources: "a mapping with cpus and/or memory",
  cpus: "a number of CPUs greater than 0, at most 1024",
  memory: "a size such as 512m or 2g, or a number of bytes",
  "runs-on": "an agent label (KEY or KEY=VALUE) or a non-empty list of distinct labels",
  services: "a mapping of service names to services (each with an image)",
  command: "a non-empty string or a non-empty list of strings",
  ports: "a list of distinct port numbers (1 to 65535)",
  port: "a port number (1 to 65535)",
  ready: "a mapping with command or port, and timeout",
};

const NAME_RULES: Record<string, string> = {
  stages: 'invalid stage name %s: use lowercase letters, digits, "-" and "_", starting with a letter or digit, at most 63 characters',
  env: "invalid environment variable name %s: use letters, digits and _, not starting with a digit",
  matrix: "invalid matrix key %s: use letters, digits, - and _, not starting with a digit",
  inputs: "invalid input name %s: use letters, digits, - and _, not starting with a digit",
  services: 'invalid service name %s: a service is reached by its name, so use a DNS label (lowercase letters, digits and "-", starting and ending with a letter or digit, at most 63 characters)',
};

/** What each key of one of `on.manual.inputs` must be. */
const INPUT_EXPECTED: Record<string, string> = {
  type: 'one of "string", "number", "boolean" or "choice"',
  description: "a string",
  required: "true or false",
  default: "a string, number or boolean",
  options: "a non-empty list of distinct strings",
};

/** Turns ajv's errors into one positioned, readable message per problem. */
export function translateSchemaErrors(doc: SourceDoc, errors: readonly ErrorObject[]): PipelineError[] {
  const out: PipelineError[] = [];
  const seen = new Set<string>();
  const emit = (key: string, err: () => PipelineError): void => {
    if (seen.has(key)) return;
    seen.add(key);
    out.push(err());
  };
  // The most specific message per path wins: errors below a path with an
  // unknown key or a missing key are reported as such, not as type noise.
  for (const e of errors) {
    const path = pointerToPath(e.instancePath);
    const propertyName = (e as ErrorObject & { propertyName?: string }).propertyName;
    if (e.keyword === "additionalProperties") {
      const key = String((e.params as { additionalProperty: string }).additionalProperty);
      const allowed = Object.keys(((e.parentSchema as { properties?: object } | undefined)?.properties ?? {}));
      const hint = suggest(key, allowed);
      const message = `unknown key ${JSON.stringify(key)} ${inWhere(path)}${hint ? ` (did you mean ${JSON.stringify(hint)}?)` : ""}`;
      emit(`ap:${e.instancePath}:${key}`, () => new PipelineError(doc.file, doc.locate([...path, key], "key"), message));
    } else if (e.keyword === "required") {
      const key = String((e.params as { missingProperty: string }).missingProperty);
      const message = `${subject(path)} is missing required key ${JSON.stringify(key)}`;
      emit(`rq:${e.instancePath}:${key}`, () => new PipelineError(doc.file, doc.locate(path, "key"), message));
    } else if (propertyName !== undefined || e.keyword === "propertyNames") {
      const name = propertyName ?? String((e.params as { propertyName?: string }).propertyName);
      const rule = NAME_RULES[inMatrixEntry(path) ? "matrix" : String(path[path.length - 1])] ?? "invalid key %s";
      const message = rule.replace("%s", JSON.stringify(name));
      emit(`pn:${e.instancePath}:${name}`, () => new PipelineError(doc.file, doc.locate([...path, name], "key"), message));
    } else if (e.keyword === "uniqueItems") {
      const j = (e.params as { j: number }).j;
      const item = valueAt(doc.value, [...path, String(j)]);
      const message = `duplicate entry ${JSON.stringify(item)} in ${quoted(path)}`;
      emit(`ui:${e.instancePath}`, () => new PipelineError(doc.file, doc.locate([...path, String(j)]), message));
    } else {
      emit(`v:${e.instancePath}`, () => new PipelineError(doc.file, doc.locate(path), valueMessage(path, e)));
    }
  }
  return out;
}

function valueMessage(path: readonly string[], e: ErrorObject): string {
  const last = path[path.length - 1];
  const parent = path[path.length - 2];
  if (path.length === 0) return 'the pipeline must be a mapping with a "stages" key';
  if (path.length === 2 && path[0] === "stages" && last !== undefined) {
    return `stage ${JSON.stringify(last)} must be a mapping with a "run" key`;
  }
  if (last === "stages" && e.keyword === "minProperties") return '"stages" must define at least one stage';
  if (last === "matrix" && e.keyword === "minProperties") return `${quoted(path)} must have at least one axis`;
  if (parent === "matrix" && (last === "include" || last === "exclude")) {
    return `${JSON.stringify(last)} of the matrix ${ofStage(path)}must be a non-empty list of mappings of matrix keys to strings, numbers or booleans`;
  }
  if (path[path.length - 3] === "matrix" && (parent === "include" || parent === "exclude")) {
    return `an entry of ${JSON.stringify(parent)} of the matrix ${ofStage(path)}must be a mapping of matrix keys to strings, numbers or booleans`;
  }
  if (inMatrixEntry(path.slice(0, -1)) && last !== undefined) return `matrix value ${JSON.stringify(last)} must be a string, number or boolean`;
  if (parent === "matrix" && last !== undefined) {
    if (e.keyword === "minItems") return `matrix axis ${JSON.stringify(last)} ${ofStage(path)}must not be empty`;
    return `matrix axis ${JSON.stringify(last)} ${ofStage(path)}must be a non-empty list of strings, numbers or booleans`;
  }
  if (path[path.length - 3] === "matrix") return "matrix values must be strings, numbers or booleans";
  if (path[0] === "on" && path[1] === "schedule" && path.length === 4 && last === "branch") {
    return '"branch" of a schedule must be a branch name (not a glob: no spaces, *, ?, [, ], ~, ^, : or \\)';
  }
  if (parent === "env" && last !== undefined) return `env value ${JSON.stringify(last)} must be a string, number or boolean`;
  if (path[0] === "on" && path[1] === "manual" && path[2] === "inputs" && path.length >= 4) {
    const input = JSON.stringify(path[3]);
    const field = path.length >= 5 ? path[4] : undefined;
    if (field === undefined) return `input ${input} must be a mapping (type, description, required, default, options)`;
    if (INPUT_EXPECTED[field]) return `${JSON.stringify(field)} of input ${input} must be ${INPUT_EXPECTED[field]}`;
  }
  // An array item: describe the list it belongs to.
  const key = last !== undefined && /^\d+$/.test(last) ? parent : last;
  const expected = key !== undefined ? EXPECTED[key] : undefined;
  if (key !== undefined && expected !== undefined) return `${JSON.stringify(key)} must be ${expected}`;
  return `${quoted(path)} ${e.message ?? "is invalid"}`;
}

/** True for the path of one entry of a matrix's include or exclude. */
function inMatrixEntry(path: readonly string[]): boolean {
  const n = path.length;
  return n >= 3 && path[n - 3] === "matrix" && (path[n - 2] === "include" || path[n - 2] === "exclude") && /^\d+$/.test(path[n - 1] ?? "");
}

function ofStage(path: readonly string[]): string {
  return path[0] === "stages" && path[1] !== undefined ? `of stage ${JSON.stringify(path[1])} ` : "";
}

/** `in stage "build"`, `in "when" of stage "build"`, `in "on.push"`, `at the top level`. */
function inWhere(path: readonly string[]): string {
  if (path.length === 0) return "at the top level";
  return `in ${subject(path)}`;
}

function subject(path: readonly string[]): string {
  if (path.length === 0) return "the pipeline";
  if (path[0] === "stages" && path.length === 2) return `stage ${JSON.stringify(path[1])}`;
  return quoted(path);
}

function quoted(path: readonly string[]): string {
  if (path[0] === "stages" && path.length > 2) return `${JSON.stringify(path.slice(2).join("."))} of stage ${JSON.stringify(path[1])}`;
  return JSON.stringify(path.join("."));
}

function valueAt(value: unknown, path: readonly string[]): unknown {
  let v = value;
  for (const seg of path) {
    if (typeof v !== "object" || v === null) return undefined;
    v = (v as Record<string, unknown>)[seg];
  }
  return v;
}
