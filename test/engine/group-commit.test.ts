import { describe, expect, it } from "vitest";
import { GroupCommit } from "../../src/engine/group-commit.js";
import { KeyedQueue } from "../../src/engine/keyed-queue.js";

describe("GroupCommit", () => {
  it("handles what queues up behind a running task as one batch, in submission order", async () => {
    const queue = new KeyedQueue();
    const batches: string[][] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const commit = new GroupCommit<string, string>(queue, async (_key, items) => {
      batches.push([...items]);
      if (items[0] === "a") await held;
      return items.join("+");
    });
    const first = commit.submit("run", "a");
    await new Promise((r) => setTimeout(r, 5)); // "a" is being handled now
    const rest = ["b", "c", "d"].map((i) => commit.submit("run", i));
    const other = commit.submit("other run", "x");
    // Another key does not wait for this one.
    expect(await other).toBe("x");
    release();
    expect(await first).toBe("a");
    // b, c and d share one batch and its result.
    expect(await Promise.all(rest)).toEqual(["b+c+d", "b+c+d", "b+c+d"]);
    expect(batches).toEqual([["a"], ["x"], ["b", "c", "d"]]);
  });

  it("gives every item of a failed batch the error, and goes on with the next batch", async () => {
    const queue = new KeyedQueue();
    let n = 0;
    const commit = new GroupCommit<string, string>(queue, (_key, items) => {
      n++;
      if (n === 1) return Promise.reject(new Error(`append failed for ${items.join(",")}`));
      return Promise.resolve(items.join(","));
    });
    const a = commit.submit("run", "a");
    const b = commit.submit("run", "b");
    await expect(a).rejects.toThrow("append failed for a,b");
    await expect(b).rejects.toThrow("append failed for a,b");
    expect(await commit.submit("run", "c")).toBe("c");
  });

  it("lets a lingering item wait for company, and starts at once when one that does not linger joins", async () => {
    const queue = new KeyedQueue();
    const batches: string[][] = [];
    const commit = new GroupCommit<string, string>(queue, (_key, items) => {
      batches.push([...items]);
      return Promise.resolve(items.join("+"));
    });
    const started = performance.now();
    const alone = await commit.submit("run", "started", { lingerMs: 40 });
    expect(alone).toBe("started");
    expect(performance.now() - started).toBeGreaterThanOrEqual(35);

    const lingering = commit.submit("run", "started", { lingerMs: 10_000 });
    await new Promise((r) => setTimeout(r, 5));
    const at = performance.now();
    const finished = commit.submit("run", "finished");
    expect(await Promise.all([lingering, finished])).toEqual(["started+finished", "started+finished"]);
    expect(performance.now() - at).toBeLessThan(5_000);
    expect(batches).toEqual([["started"], ["started", "finished"]]);
  });
});
