/**
 * `npm run bench`: runs every benchmark and writes BENCHMARKS.md and
 * bench/results.json. `npm run bench -- ID...` runs only the benchmarks whose
 * id starts with one of the given prefixes.
 */
import { fileURLToPath } from "node:url";
import { chainBenchmark, throughputBenchmarks } from "./engine.bench.js";
import { logBenchmarks } from "./logs.bench.js";
import { idleMemoryBenchmarks } from "./memory.bench.js";
import { measure, type Benchmark, type Result } from "./harness.js";
import { runsListBenchmark } from "./runs-list.bench.js";
import { validateBenchmarks } from "./validate.bench.js";
import { dockerStartBenchmark, localStartBenchmark } from "./provider-start.bench.js";
import { recoveryBenchmark } from "./recovery.bench.js";
import { writeReport } from "./report.js";
import { webhookAckBenchmarks } from "./webhook-ack.bench.js";
import { firstOutputBenchmark } from "./webhook-first-output.bench.js";
import { benchStores } from "./stores.js";

function all(): Benchmark[] {
  const out: Benchmark[] = [...validateBenchmarks(), localStartBenchmark(), dockerStartBenchmark()];
  for (const kind of benchStores()) {
    out.push(chainBenchmark(kind), ...throughputBenchmarks(kind), runsListBenchmark(kind), ...webhookAckBenchmarks(kind), firstOutputBenchmark(kind), recoveryBenchmark(kind));
    out.push(...logBenchmarks(kind), ...idleMemoryBenchmarks(kind));
  }
  return out;
}

const filters = process.argv.slice(2);
const chosen = all().filter((b) => filters.length === 0 || filters.some((f) => b.id.startsWith(f)));
const results: Result[] = [];
for (const b of chosen) {
  process.stderr.write(`bench ${b.id} …`);
  const started = performance.now();
  const r = await measure(b);
  results.push(r);
  const took = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(r.error ? ` FAILED (${took} s)\n${r.error}\n` : ` ${r.median.toFixed(2)} ${r.unit} (${took} s)\n`);
}
const root = (p: string) => fileURLToPath(new URL(`../${p}`, import.meta.url));
await writeReport(results, { markdown: root("BENCHMARKS.md"), json: root("bench/results.json") });
process.stderr.write("wrote BENCHMARKS.md and bench/results.json\n");
process.exitCode = results.some((r) => r.error) ? 1 : 0;
