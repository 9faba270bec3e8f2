/**
 * OpenTelemetry spans from a real `hodei server`: a signed GitHub push is
 * delivered, its run runs on a local agent, and an OTLP/HTTP receiver on
 * 127.0.0.1 (the exporter's JSON encoding) gets the whole trace: receipt →
 * processing → fetch and plan → run → stage attempts, with their attributes.
 * Without an endpoint nothing of the SDK is loaded.
 */
import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tracingConfigFromEnv } from "../../src/observability/tracing.js";
import { signGithub } from "../../src/webhooks/signature.js";
import { testStore } from "../helpers/databases.js";
import { hodeiBin, repoRoot } from "../helpers/hodei-cli.js";
import { createRepo } from "../git/repos.js";
import { githubExample, githubHeaders } from "../webhooks/payloads.js";

const SECRET = "otel-webhook-secret";

/** OTLP/JSON (opentelemetry-proto's JSON mapping) as far as this test reads it. */
interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: OtlpValue }[];
  status?: { code?: number };
}
interface ExportRequest {
  resourceSpans: { resource: { attributes: { key: string; value: OtlpValue }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
}

function attrs(list: { key: string; value: OtlpValue }[]): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list) out[key] = value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : value.boolValue ?? "?");
  return out;
}

describe("OpenTelemetry spans of a webhook-triggered run", () => {
  let receiver: Server;
  const requests: { path: string; contentType: string; body: ExportRequest }[] = [];
  let endpoint = "";

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        requests.push({ path: req.url ?? "", contentType: req.headers["content-type"] ?? "", body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as ExportRequest });
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const address = receiver.address();
    endpoint = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  });
  afterAll(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

  it("exports receive → process → fetch, plan → run → stage attempts as one trace, with run, stage, attempt, repo, sha and conclusion", async () => {
    const repo = await createRepo("traced");
    const before = await repo.commit({ "README.md": "hi\n" });
    const after = await repo.commit({
      ".hodei/pipeline.yml": "name: ci\nstages:\n  build:\n    run: echo built\n  check:\n    needs: [build]\n    retries: 1\n    run: exit 3\n",
    });
    const store = await testStore("pglite").create();
    const child = spawn(process.execPath, [hodeiBin, "server"], {
      cwd: repoRoot,
      env: {
        ...process.env,
        DATABASE_URL: "",
        HODEI_DATA_DIR: store.dataDir,
        HODEI_PORT: "0",
        HODEI_GRPC_PORT: "0",
        HODEI_LOCAL_AGENTS: "1",
        HODEI_ALLOW_FILE_REPOS: "1",
        HODEI_GITHUB_WEBHOOK_SECRET: SECRET,
        HODEI_LOG_LEVEL: "warn",
        OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "",
        OTEL_SERVICE_NAME: "hodei-under-test",
        OTEL_BSP_SCHEDULE_DELAY: "200",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    let runId = "";
    let repoName: string | undefined;
    const deliveryId = randomUUID();
    try {
      await expect.poll(() => out, { timeout: 45_000, interval: 100 }).toMatch(/health +http:\/\/127\.0\.0\.1:\d+\/healthz/);
      expect(out).toContain(`tracing: OpenTelemetry spans to ${endpoint}/v1/traces`);
      const base = /health +(http:\/\/127\.0\.0\.1:\d+)\/healthz/.exec(out)![1]!;

      const payload = githubExample("push", (e) => typeof e.ref === "string" && e.ref.startsWith("refs/heads/") && e.deleted === false);
      Object.assign(payload, { ref: "refs/heads/main", before, after, deleted: false });
      delete payload.installation;
      payload.repository.clone_url = repo.url;
      repoName = String(payload.repository.full_name);
      const body = JSON.stringify(payload);
      const res = await fetch(`${base}/webhooks/github`, { method: "POST", headers: githubHeaders("push", deliveryId, signGithub(SECRET, body)), body });
      expect(res.status, out).toBe(202);

      await expect
        .poll(
          async () => {
            const { runs } = (await (await fetch(`${base}/api/runs`)).json()) as { runs: { id: string; status: string }[] };
            runId = runs[0]?.id ?? "";
            return runs[0]?.status;
          },
          { timeout: 60_000, interval: 200 },
        )
        .toBe("completed");
    } finally {
      child.kill("SIGTERM");
    }
    // Shutting down exports what is still buffered.
    expect(await exited, out).toBe(0);

    expect(requests.length).toBeGreaterThan(0);
    for (const r of requests) {
      expect(r.path).toBe("/v1/traces");
      expect(r.contentType).toMatch(/^application\/json/);
    }
    const resources = requests.flatMap((r) => r.body.resourceSpans);
    for (const rs of resources) expect(attrs(rs.resource.attributes)["service.name"]).toBe("hodei-under-test");
    const spans = resources.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
    const named = (name: string) => spans.filter((s) => s.name === name);
    const one = (name: string) => {
      const found = named(name);
      expect(found.map((s) => s.name), `spans named ${name} among ${spans.map((s) => s.name).join(", ")}`).toEqual([name]);
      return found[0]!;
    };

    const receive = one("webhook receive");
    const process_ = one("webhook process");
    const fetchSpan = one("git fetch");
    const plan = one("pipeline plan");
    const run = one("run ci");
    const build = one("stage build");
    const checks = named("stage check").sort((a, b) => Number(attrs(a.attributes)["hodei.attempt"]) - Number(attrs(b.attributes)["hodei.attempt"]));

    // One trace, parented as the data flows.
    for (const s of [process_, fetchSpan, plan, run, build, ...checks]) expect(s.traceId, s.name).toBe(receive.traceId);
    expect(receive.parentSpanId || undefined).toBeUndefined();
    expect(receive.kind).toBe(2); // SPAN_KIND_SERVER
    expect(process_.parentSpanId).toBe(receive.spanId);
    expect(fetchSpan.parentSpanId).toBe(process_.spanId);
    expect(plan.parentSpanId).toBe(process_.spanId);
    expect(run.parentSpanId).toBe(process_.spanId);
    expect(build.parentSpanId).toBe(run.spanId);
    expect(checks).toHaveLength(2);
    for (const c of checks) expect(c.parentSpanId).toBe(run.spanId);

    expect(attrs(receive.attributes)).toMatchObject({ "hodei.forge": "github", "hodei.delivery.id": deliveryId, "hodei.webhook.event": "push", "http.response.status_code": 202 });
    expect(attrs(process_.attributes)).toMatchObject({ "hodei.delivery.id": deliveryId, "hodei.delivery.status": "done", "hodei.delivery.outcome": `started run ${runId}` });
    expect(attrs(fetchSpan.attributes)).toMatchObject({ "hodei.sha": after });
    expect(attrs(plan.attributes)).toMatchObject({ "hodei.pipeline.file": ".hodei/pipeline.yml" });
    expect(attrs(run.attributes)).toMatchObject({ "hodei.run.id": runId, "hodei.repo": repoName, "hodei.sha": after, "hodei.ref": "refs/heads/main", "hodei.event": "push", "hodei.conclusion": "failure" });
    expect(attrs(build.attributes)).toMatchObject({ "hodei.run.id": runId, "hodei.stage.id": "build", "hodei.attempt": 1, "hodei.outcome": "success", "hodei.exit_code": 0, "hodei.repo": repoName, "hodei.sha": after });
    expect(checks.map((c) => attrs(c.attributes))).toMatchObject([
      { "hodei.stage.id": "check", "hodei.attempt": 1, "hodei.outcome": "failure", "hodei.exit_code": 3 },
      { "hodei.stage.id": "check", "hodei.attempt": 2, "hodei.outcome": "failure", "hodei.exit_code": 3 },
    ]);
    expect(checks[1]!.status?.code).toBe(2); // STATUS_CODE_ERROR

    // Time nests too: the stage attempts lie inside the run, the build before the checks.
    const t = (s: OtlpSpan, k: "startTimeUnixNano" | "endTimeUnixNano") => BigInt(s[k]);
    expect(t(run, "startTimeUnixNano") <= t(build, "startTimeUnixNano")).toBe(true);
    expect(t(build, "endTimeUnixNano") <= t(checks[0]!, "startTimeUnixNano")).toBe(true);
    expect(t(checks[1]!, "endTimeUnixNano") <= t(run, "endTimeUnixNano")).toBe(true);
  }, 150_000);
});

describe("tracing configuration", () => {
  it("is on only with an OTLP endpoint; the traces variable wins; OTEL_SERVICE_NAME defaults to hodei", () => {
    expect(tracingConfigFromEnv({})).toBeNull();
    expect(tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: " " })).toBeNull();
    expect(tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318/" })).toEqual({ serviceName: "hodei", endpoint: "http://c:4318/v1/traces" });
    expect(tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://t:1/x", OTEL_SERVICE_NAME: "ci" })).toEqual({ serviceName: "ci", endpoint: "http://t:1/x" });
    expect(tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" })).toBeNull();
  });

  it("loads no OpenTelemetry module without an endpoint, and does with one", async () => {
    const probe = (env: Record<string, string>) =>
      promisify(execFile)(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          `import { createRequire } from "node:module";
           const { startTracing } = await import("./dist/observability/tracing.js");
           const t = await startTracing(process.env);
           const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes("@opentelemetry")).length;
           await t?.shutdown();
           console.log(JSON.stringify({ on: t !== null, loaded }));`,
        ],
        { cwd: repoRoot, env: { PATH: process.env.PATH ?? "", ...env } },
      );
    const off = JSON.parse((await probe({})).stdout) as { on: boolean; loaded: number };
    expect(off).toEqual({ on: false, loaded: 0 });
    const on = JSON.parse((await probe({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" })).stdout) as { on: boolean; loaded: number };
    expect(on.on).toBe(true);
    expect(on.loaded).toBeGreaterThan(0);
  });
});
