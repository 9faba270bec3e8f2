/** Writes BENCHMARKS.md and bench/results.json from measured results. */
import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import os from "node:os";
import type { Result } from "./harness.js";

const fmt = (n: number | null, digits = 2) => (n === null || Number.isNaN(n) ? "—" : Number(n.toFixed(digits)).toLocaleString("en-US"));

/**
 * What starting a process costs on this machine: the median of 30 runs of
 * `/bin/sh -c true` from this process, to the exit. Many figures here
 * (every stage, every git call) start processes, and this cost differs
 * several-fold between machines of the same kind (virtual machines whose
 * page-table updates are slow pay it on every fork and exec).
 */
function processStartMs(): number {
  const times: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    spawnSync("/bin/sh", ["-c", "true"], { stdio: "ignore" });
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

export function machine() {
  return {
    processStartMs: Number(processStartMs().toFixed(2)),
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    store: process.env.DATABASE_URL ? "PGlite and Postgres" : "PGlite",
  };
}

export async function writeReport(results: readonly Result[], files: { markdown: string; json: string }): Promise<void> {
  const m = machine();
  const when = new Date().toISOString();
  await writeFile(files.json, JSON.stringify({ when, machine: m, results }, null, 2) + "\n");

  const missed = results.filter((r) => r.met === false);
  const lines: string[] = [];
  lines.push("# Benchmarks", "");
  lines.push(`Written by \`npm run bench\` on ${when}: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}, ${m.platform}. Stores: ${m.store}. Starting a process (\`/bin/sh -c true\` from the bench process, median of 30): ${m.processStartMs} ms.`, "");
  if (missed.length > 0) {
    lines.push("## Missed targets", "");
    for (const r of missed) {
      const why = r.error ? `the benchmark failed: ${r.error.split("\n")[0]}` : (r.limits ?? "not yet profiled");
      lines.push(`- **${r.title}**: ${fmt(r.median)} ${r.unit}, target ${r.target?.direction} ${fmt(r.target?.value ?? null)} ${r.unit}. ${why}`);
    }
    lines.push("");
  }
  lines.push("## Results", "");
  lines.push("| benchmark | median | spread (min–max) | baseline (median) | ratio | target | met |");
  lines.push("| --- | --- | --- | --- | --- | --- | --- |");
  for (const r of results) {
    const target = r.target ? `${r.target.direction === "below" ? "<" : ">"} ${fmt(r.target.value)} ${r.unit}` : "—";
    const baseline = r.baselineMedian === null ? "—" : `${fmt(r.baselineMedian)} ${r.unit}`;
    const met = r.met === null ? "—" : r.met ? "yes" : "**no**";
    lines.push(`| ${r.title} | ${fmt(r.median)} ${r.unit} | ${fmt(r.min)}–${fmt(r.max)} | ${baseline} | ${fmt(r.ratio)} | ${target} | ${met} |`);
  }
  lines.push("", "## What each figure is", "");
  for (const r of results) {
    lines.push(`- **${r.title}** (\`${r.id}\`): ${r.measures}${r.baselineDescription ? ` Baseline: ${r.baselineDescription}` : ""} ${r.samples.values.length} repetitions.`);
  }
  lines.push(
    "",
    "## How to read these numbers",
    "",
    "These machines are shared and noisy, so every figure is the median of several repetitions with its",
    "spread, and where a baseline makes sense it is measured in the same run, right beside Hodei: the",
    "ratio to it moves much less between machines than the absolute number. Treat a single run's",
    "absolute numbers as indicative and compare ratios across runs; the process start figure at the top",
    "tells apart machines that differ most where Hodei starts processes (stages, git). Targets come from",
    "the issues that built each part; a missed target is listed at the top with what a profile says",
    "limits it.",
    "",
    "Run it yourself with `npm run bench` (set `DATABASE_URL` to measure Postgres as well as PGlite).",
    "",
  );
  await writeFile(files.markdown, lines.join("\n"));
}
