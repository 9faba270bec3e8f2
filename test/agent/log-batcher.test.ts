/** The agent's log batcher: a stage's first output goes at once, what follows is batched by size and age. */
import { describe, expect, it } from "vitest";
import { LogBatcher } from "../../src/agent/log-batcher.js";

function collect(options: { maxBytes?: number; maxAgeMs?: number; firstMaxAgeMs?: number } = {}) {
  const chunks: { seq: number; data: string; at: number }[] = [];
  const batcher = new LogBatcher({ ...options, onChunk: (c) => chunks.push({ ...c, at: performance.now() }) });
  return { batcher, chunks };
}

describe("log batcher", () => {
  it("hands out the first output with the push, without waiting for the batch age", () => {
    const { batcher, chunks } = collect({ maxAgeMs: 10_000 });
    batcher.push("first output\n");
    expect(chunks).toEqual([expect.objectContaining({ seq: 1, data: "first output\n" })]);
  });

  it("batches what follows the first chunk until its age is reached", async () => {
    const { batcher, chunks } = collect({ maxAgeMs: 50 });
    batcher.push("one\n");
    const start = performance.now();
    batcher.push("two\n");
    batcher.push("three\n");
    expect(chunks.map((c) => c.data)).toEqual(["one\n"]);
    await new Promise((r) => setTimeout(r, 120));
    expect(chunks.map((c) => [c.seq, c.data])).toEqual([
      [1, "one\n"],
      [2, "two\nthree\n"],
    ]);
    expect(chunks[1]!.at - start).toBeGreaterThanOrEqual(45);
  });

  it("may hold the first chunk briefly (firstMaxAgeMs) to gather a burst", async () => {
    const { batcher, chunks } = collect({ maxAgeMs: 1_000, firstMaxAgeMs: 20 });
    batcher.push("a\n");
    batcher.push("b\n");
    expect(chunks).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 60));
    expect(chunks.map((c) => c.data)).toEqual(["a\nb\n"]);
  });

  it("gives what it holds to take() as the next chunk, for a stage's result to carry, and nothing later", async () => {
    const { batcher, chunks } = collect({ maxAgeMs: 20, firstMaxAgeMs: 20 });
    batcher.push("quick\n");
    batcher.push("stage\n");
    expect(batcher.take()).toEqual({ seq: 1, data: "quick\nstage\n" });
    expect(batcher.take()).toBeNull();
    await new Promise((r) => setTimeout(r, 60));
    expect(chunks).toHaveLength(0);
    batcher.push("more\n");
    await new Promise((r) => setTimeout(r, 60));
    expect(chunks.map((c) => [c.seq, c.data])).toEqual([[2, "more\n"]]);
  });

  it("at full speed: the first line alone, then 256 KiB batches, in order and complete", () => {
    const { batcher, chunks } = collect();
    const line = `${"x".repeat(79)}\n`;
    for (let i = 0; i < 10_000; i++) batcher.push(line);
    batcher.flush();
    expect(chunks.map((c) => c.data).join("")).toBe(line.repeat(10_000));
    expect(chunks.map((c) => c.seq)).toEqual(chunks.map((_, i) => i + 1));
    // 800 KB: the first line alone, then 256 KiB batches, then the rest.
    expect(chunks.length).toBeLessThanOrEqual(1 + Math.ceil((line.length * 10_000) / (256 * 1024)));
  });
});
