import { describe, expect, expectTypeOf, it } from "vitest";
import { definePipeline } from "../../src/index.js";
import { checkDefinition } from "../../src/pipeline-parser/check.js";
import { loadPipelineSchema } from "../../src/pipeline-parser/schema.js";
import type {
  PipelineDefinition,
  ProviderName,
  PullRequestTrigger,
  PushTrigger,
  ServiceDefinition,
  ServiceReadiness,
  ScheduleTrigger,
  StageDefaults,
  StageDefinition,
  TriggerEvent,
  WhenClause,
} from "../../src/pipeline-parser/types.js";

// `satisfies Record<keyof T, true>` fails to compile if a key is missing or extra,
// so each list below is exactly the keys of its TypeScript type.
const pipelineKeys = { name: true, on: true, env: true, defaults: true, stages: true } satisfies Record<keyof PipelineDefinition, true>;
const onKeys = { push: true, pull_request: true, manual: true, schedule: true } satisfies Record<keyof NonNullable<PipelineDefinition["on"]>, true>;
const pushKeys = { branches: true, tags: true, paths: true, "paths-ignore": true } satisfies Record<keyof PushTrigger, true>;
const scheduleKeys = { cron: true, branch: true, timezone: true } satisfies Record<keyof ScheduleTrigger, true>;
const pullRequestKeys = { branches: true, paths: true, "paths-ignore": true } satisfies Record<keyof PullRequestTrigger, true>;
const defaultsKeys = {
  provider: true, image: true, timeout: true, retries: true, env: true, secrets: true, artifacts: true, allow_failure: true, workdir: true, resources: true, "runs-on": true, services: true,
} satisfies Record<keyof StageDefaults, true>;
const stageKeys = { ...defaultsKeys, run: true, needs: true, matrix: true, "fail-fast": true, "max-parallel": true, when: true } satisfies Record<keyof StageDefinition, true>;
const serviceKeys = { image: true, env: true, command: true, ports: true, ready: true } satisfies Record<keyof ServiceDefinition, true>;
const readyKeys = { command: true, port: true, timeout: true } satisfies Record<keyof ServiceReadiness, true>;
const whenKeys = { event: true, branch: true, tag: true, paths: true, status: true } satisfies Record<keyof WhenClause, true>;

type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  required?: string[];
  enum?: string[];
  items?: SchemaNode;
  $ref?: string;
}

const schema = loadPipelineSchema() as unknown as SchemaNode & { $defs: Record<string, SchemaNode> };
const node = (...path: string[]): SchemaNode => {
  let n: SchemaNode | undefined = schema;
  for (const p of path) {
    n = (n as Record<string, unknown>)[p] as SchemaNode | undefined;
    if (n?.$ref) n = schema.$defs[n.$ref.replace("#/$defs/", "")];
  }
  if (!n) throw new Error(`no schema node at ${path.join("/")}`);
  return n;
};
const keysOf = (n: SchemaNode): string[] => Object.keys(n.properties ?? {}).sort();
const sorted = (o: object): string[] => Object.keys(o).sort();

describe("the TypeScript types match the JSON schema", () => {
  it("has the same keys at every level", () => {
    expect(keysOf(schema)).toEqual(sorted(pipelineKeys));
    expect(keysOf(node("properties", "on"))).toEqual(sorted(onKeys));
    expect(keysOf(node("properties", "on", "properties", "push"))).toEqual(sorted(pushKeys));
    expect(keysOf(node("properties", "on", "properties", "pull_request"))).toEqual(sorted(pullRequestKeys));
    expect(keysOf(node("properties", "on", "properties", "schedule", "items"))).toEqual(sorted(scheduleKeys));
    expect(keysOf(node("properties", "defaults"))).toEqual(sorted(defaultsKeys));
    expect(keysOf(node("$defs", "stage"))).toEqual(sorted(stageKeys));
    expect(keysOf(node("$defs", "stage", "properties", "when"))).toEqual(sorted(whenKeys));
    expect(keysOf(node("$defs", "service"))).toEqual(sorted(serviceKeys));
    expect(keysOf(node("$defs", "service", "properties", "ready"))).toEqual(sorted(readyKeys));
  });

  it("describes every property, for editor hover help", () => {
    const missing: string[] = [];
    const visit = (n: unknown, where: string): void => {
      if (typeof n !== "object" || n === null) return;
      const props = (n as { properties?: Record<string, { description?: string }> }).properties ?? {};
      for (const [k, v] of Object.entries(props)) if (!v.description) missing.push(`${where}/${k}`);
      for (const [k, v] of Object.entries(n)) visit(v, `${where}/${k}`);
    };
    visit(schema, "#");
    expect(missing).toEqual([]);
  });

  it("requires the same keys", () => {
    expectTypeOf<RequiredKeys<PipelineDefinition>>().toEqualTypeOf<"stages">();
    expectTypeOf<RequiredKeys<StageDefinition>>().toEqualTypeOf<"run">();
    expect(schema.required).toEqual(["stages"]);
    expect(node("$defs", "stage").required).toEqual(["run"]);
    expectTypeOf<RequiredKeys<ServiceDefinition>>().toEqualTypeOf<"image">();
    expect(node("$defs", "service").required).toEqual(["image"]);
    expectTypeOf<RequiredKeys<ScheduleTrigger>>().toEqualTypeOf<"cron" | "branch">();
    expect(node("properties", "on", "properties", "schedule", "items").required).toEqual(["cron", "branch"]);
  });

  it("has the same enums", () => {
    const providers = ["local", "docker", "kubernetes"] as const;
    const events = ["push", "pull_request", "manual", "schedule"] as const;
    expectTypeOf<ProviderName>().toEqualTypeOf<(typeof providers)[number]>();
    expectTypeOf<TriggerEvent>().toEqualTypeOf<(typeof events)[number]>();
    expect(node("$defs", "provider").enum).toEqual([...providers]);
    expect(node("$defs", "stage", "properties", "when", "properties", "event").items?.enum).toEqual([...events]);
  });

  it("definePipeline returns its argument, typed for authors", () => {
    const pipeline = definePipeline({ stages: { build: { run: "make", retries: 1, when: { event: ["push"] } } } });
    expect(pipeline).toEqual({ stages: { build: { run: "make", retries: 1, when: { event: ["push"] } } } });
    const factory = definePipeline((ctx) => ({ stages: { build: { run: `echo ${ctx.branch ?? ""}` } } }));
    expect(typeof factory).toBe("function");
    // @ts-expect-error unknown keys are refused by the types as by the schema
    definePipeline({ stages: { build: { runs: "make" } } });
  });

  it("a value of the types built with every key passes the schema", () => {
    const full: PipelineDefinition = {
      name: "all",
      on: { push: { branches: ["main"], tags: ["v*"], paths: ["src/**"], "paths-ignore": ["docs/**"] }, pull_request: { branches: ["main"], paths: ["a"], "paths-ignore": ["b"] }, manual: null, schedule: [{ cron: "0 3 * * *", branch: "main", timezone: "Europe/Berlin" }] },
      env: { A: "1", B: 2, C: true },
      defaults: { provider: "docker", image: "node:20", timeout: "10m", retries: 2, env: { D: "d" }, secrets: ["S"], artifacts: ["dist/"], allow_failure: false, workdir: "." },
      stages: {
        build: { run: ["make"], needs: [], matrix: { k: ["a", 1, true] }, when: { event: ["push"], branch: ["main"], tag: ["v*"], paths: ["src/**"] }, provider: "local", image: "x", timeout: 60, retries: 0, env: {}, secrets: [], artifacts: [], allow_failure: true, workdir: "a" },
        db: {
          run: "psql -h db",
          provider: "docker",
          image: "x",
          services: { db: { image: "postgres:16", env: { POSTGRES_PASSWORD: "p" }, command: ["postgres", "-c", "fsync=off"], ports: [5432], ready: { command: "pg_isready", timeout: "30s" } }, cache: { image: "redis", command: "redis-server --save ''", ready: { port: 6379 } } },
        },
      },
    };
    const doc = { file: "all", value: full, locate: () => ({ line: 1, column: 1 }) };
    const result = checkDefinition(doc);
    expect(result.ok ? [] : result.errors.map(String)).toEqual([]);
  });
});
