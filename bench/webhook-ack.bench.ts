/**
 * Webhook acknowledgement latency (issue 7): signed GitHub push deliveries
 * sent open-loop at 200 a second to a real `hodei server` process, timed from
 * send to the 202; beside the same load on `GET /healthz` of the same server
 * (one store round trip, no signature, no insert). p50 and p99 are two
 * figures of one measurement.
 */
import { randomUUID } from "node:crypto";
import { signGithub } from "../src/webhooks/signature.js";
import { freePort } from "../test/durability/crash-harness.js";
import { githubExample } from "../test/webhooks/payloads.js";
import { createBenchRepo } from "./git-repo.js";
import type { Benchmark, Samples } from "./harness.js";
import { openLoop, quantile, type LoadRequest } from "./open-loop.js";
import { startServerProcess } from "./server-process.js";
import { freshStore, type BenchStore } from "./stores.js";

const RATE = 200;
const WEBHOOK_SECONDS = 10;
const BASELINE_SECONDS = 5;
const SECRET = "bench webhook secret";
/** Triggered only by release branches: each push to main is stored, answered, then fully processed (mirror, pipeline read, plan) without starting a run. */
const PIPELINE = `name: ci\non:\n  push:\n    branches: ["release/**"]\nstages:\n  build:\n    run: echo build\n`;

interface AckFigures {
  p50: Samples;
  p99: Samples;
}

async function measureAck(kind: BenchStore, reps: number): Promise<AckFigures> {
  const store = await freshStore(kind);
  const repo = await createBenchRepo();
  const before = await repo.commit({ ".hodei/pipeline.yml": PIPELINE });
  const after = await repo.commit({ "src/app.ts": "export const x = 1;\n" });
  const payload = githubExample("push", (e) => typeof e.ref === "string" && e.ref.startsWith("refs/heads/") && e.deleted === false);
  Object.assign(payload, { ref: "refs/heads/main", before, after, deleted: false });
  payload.repository.clone_url = repo.url;
  const body = Buffer.from(JSON.stringify(payload));
  const signature = signGithub(SECRET, body);
  const webhook = (): LoadRequest => ({
    method: "POST",
    path: "/webhooks/github",
    headers: {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/044aadd",
      "x-github-delivery": randomUUID(),
      "x-github-event": "push",
      "x-github-hook-id": "292430182",
      "x-hub-signature-256": signature,
    },
    body,
    expect: 202,
  });
  const health = (): LoadRequest => ({ method: "GET", path: "/healthz", headers: {}, expect: 200 });

  const port = await freePort();
  const server = startServerProcess({
    DATABASE_URL: store.databaseUrl ?? "",
    HODEI_DATA_DIR: store.dataDir,
    HODEI_PORT: String(port),
    HODEI_GRPC_PORT: String(await freePort()),
    HODEI_GITHUB_WEBHOOK_SECRET: SECRET,
    HODEI_ALLOW_FILE_REPOS: "1",
  });
  try {
    await server.waitFor(/hodei server ready/);
    // Warm-up: JIT, connection pools, and the repository's mirror (cloned by the first processed delivery).
    await openLoop(port, { rate: RATE, seconds: 1, request: health });
    await openLoop(port, { rate: RATE, seconds: 2, request: webhook });
    const figures: AckFigures = { p50: { values: [], baseline: [] }, p99: { values: [], baseline: [] } };
    for (let r = 0; r < reps; r++) {
      const base = await openLoop(port, { rate: RATE, seconds: BASELINE_SECONDS, request: health });
      const hook = await openLoop(port, { rate: RATE, seconds: WEBHOOK_SECONDS, request: webhook });
      for (const [what, load] of [["webhook", hook], ["healthz", base]] as const) {
        // An unanswered delivery is one the forge counts as failed: the figure would be a lie without it.
        if (load.failed > 0) {
          throw new Error(
            `${load.failed} ${what} requests of ${load.failed + load.latencies.length} at ${RATE}/s were not answered (${load.firstFailure}); the answered ones: p50 ${quantile(load.latencies, 0.5).toFixed(0)} ms, p99 ${quantile(load.latencies, 0.99).toFixed(0)} ms`,
          );
        }
      }
      for (const [name, q] of [["p50", 0.5], ["p99", 0.99]] as const) {
        figures[name].values.push(quantile(hook.latencies, q));
        figures[name].baseline.push(quantile(base.latencies, q));
      }
      process.stderr.write(` [rep ${r + 1}: webhook p50 ${quantile(hook.latencies, 0.5).toFixed(1)} p99 ${quantile(hook.latencies, 0.99).toFixed(1)} max ${Math.max(...hook.latencies).toFixed(1)} ms, sender lag ≤ ${hook.maxLag.toFixed(1)} ms; healthz p99 ${quantile(base.latencies, 0.99).toFixed(1)} ms]`);
    }
    return figures;
  } finally {
    await server.kill();
    await store.dispose();
    await repo.dispose();
  }
}

export function webhookAckBenchmarks(kind: BenchStore): Benchmark[] {
  // One measurement feeds both figures; whichever benchmark runs first starts it.
  let shared: Promise<AckFigures> | undefined;
  const once = (reps: number) => (shared ??= measureAck(kind, reps));
  const common = {
    measures: `signed GitHub \`push\` deliveries (@octokit/webhooks-examples, a local repository's clone URL) sent open-loop at ${RATE}/s to a \`hodei server\` process on ${kind}, each timed from send to the end of its 202; ${WEBHOOK_SECONDS} s windows, the figure is the window's QUANTILE. Each delivery is then processed for real after the answer (warm mirror, pipeline read and planned; the pipeline is not triggered by the branch, so no run starts).`,
    baselineDescription: `the same open-loop load (${RATE}/s, ${BASELINE_SECONDS} s windows alternating with the webhook windows) on \`GET /healthz\` of the same server, which asks the store \`select 1\`.`,
    unit: "ms",
    repetitions: 3,
    limits:
      "On PGlite the embedded Postgres runs in a store process of its own (src/store/sidecar), so the intake's statement, the processor's claims and finishes and the engine's appends no longer run on the server's event loop; the intake stores a delivery and sends its NOTIFY in one statement (one round trip to the store, no transaction held open across round trips). Before that split, a CPU profile of the server (`node --cpu-prof`, PGlite, signed `ping` deliveries at 100/s) showed it busy all the time, about 45% in PGlite's WASM Postgres, and the intake did not keep up with 200/s: on this machine the old code's p99 grew to 10–20 s within a window and connections were reset (the benchmark failed), where the store process brought it to 1–2 s in the same conditions. Sampling /proc during those runs, the machine's two cores were 99–100% busy throughout while the server used ~35% of a core and the store process ~40%: neither is the limit, the cores are. Each push is worked off after the answer with about six git processes (mirror check, pipeline lookup, diff), serially per repository: the processor got through about 3–4 deliveries/s here (Postgres, counted from the deliveries' statuses), so its backlog grows for the whole run and competes with the intake for the two cores. Runs were measured with other engineers' builds and tests on the machine (load average up to 20), which is also why the /healthz baseline's p99 is far above 50 ms. The figure follows the machine's cost of starting a process (the figure at the top), since every delivery's processing starts git: 17–19 ms where a start takes ~1 ms (2026-11-27, before 14:30), 51–62 ms on a machine where it takes ~8 ms, whose /healthz baseline p99 was 12–27 ms.",
  };
  return [
    {
      ...common,
      id: `webhook.ack.p50.${kind}`,
      title: `Webhook acknowledgement p50 at ${RATE}/s (${kind})`,
      measures: common.measures.replace("QUANTILE", "median"),
      target: null,
      run: async (reps) => (await once(reps)).p50,
    },
    {
      ...common,
      id: `webhook.ack.p99.${kind}`,
      title: `Webhook acknowledgement p99 at ${RATE}/s (${kind})`,
      measures: common.measures.replace("QUANTILE", "99th percentile"),
      target: { direction: "below", value: 50 },
      run: async (reps) => (await once(reps)).p99,
    },
  ];
}
