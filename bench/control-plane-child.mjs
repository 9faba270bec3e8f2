// A control plane in a process of its own, for benchmarks that measure its
// memory (bench/server-process.ts drives it over the IPC channel). It runs the
// compiled code (dist/, as `hodei server` does), not tsx, so nothing of the
// benchmark's own tooling is in its memory. argv[2]: ControlPlane options as JSON.
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import process from "node:process";
import { setImmediate, setTimeout } from "node:timers";
import { ControlPlane } from "../dist/server/control-plane.js";
import { agentLogBytes, agentLogMessages } from "../dist/observability/metrics.js";
import { readStageLog } from "../dist/store/run-queries.js";

const options = JSON.parse(process.argv[2] ?? "{}");
const control = await ControlPlane.start({ ...options, log: (m) => process.stderr.write(`${m}\n`) });
while (control.engine.connectedAgents < options.localAgents) await new Promise((r) => setTimeout(r, 20));

const counterValue = async (counter) => (await counter.get()).values.reduce((n, v) => n + v.value, 0);

const handlers = {
  async run({ run }) {
    const started = performance.now();
    const id = await control.engine.startRun(run);
    const state = await control.engine.waitForRun(id);
    return { id, ms: performance.now() - started, conclusion: state.conclusion };
  },
  async counters() {
    return { logMessages: await counterValue(agentLogMessages), logBytes: await counterValue(agentLogBytes) };
  },
  // The stage's stored log, as its length and digest: the parent checks it without copying 80 MB over IPC.
  async log({ runId, stageId }) {
    const { chunks } = await readStageLog(control.db, { runId, stageId });
    const hash = createHash("sha256");
    let length = 0;
    for (const c of chunks) {
      hash.update(c.data);
      length += Buffer.byteLength(c.data);
    }
    return { chunks: chunks.length, bytes: length, sha256: hash.digest("hex") };
  },
  // Where the memory is (V8 heap, buffers, PGlite's WASM memory among external), for profiling.
  async memory() {
    return process.memoryUsage();
  },
  async stop() {
    await control.stop();
    setImmediate(() => process.exit(0));
    return {};
  },
};

process.on("message", (message) => {
  const { id, type, ...args } = message;
  handlers[type](args).then(
    (value) => process.send({ id, value }),
    (error) => process.send({ id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) }),
  );
});
process.send({ id: 0, value: { ready: true } });
