/** The engine's store wrapper on a virtual clock: unavailable-store errors wait and retry, others do not. */
import { describe, expect, it } from "vitest";
import { OutageTolerantStore, StoreStoppedError } from "../../src/engine/outage-tolerant-store.js";
import type { RunStore } from "../../src/engine/ports.js";
import { VirtualClock } from "../helpers/virtual-clock.js";

function refused(): Error {
  return Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5999"), { code: "ECONNREFUSED" });
}

/** A store whose `load` fails `failures` times with `error`, then answers. */
function flakyStore(failures: number, error: () => Error): RunStore & { calls: number[] } {
  const calls: number[] = [];
  let left = failures;
  const store = {
    calls,
    load: () => {
      calls.push(calls.length);
      if (left-- > 0) return Promise.reject(error());
      return Promise.resolve(null);
    },
  };
  return store as unknown as RunStore & { calls: number[] };
}

describe("OutageTolerantStore", () => {
  it("retries an unavailable store with doubling backoff, logs the outage once per run, and says when it is over", async () => {
    const clock = new VirtualClock();
    const lines: string[] = [];
    const inner = flakyStore(4, refused);
    const store = new OutageTolerantStore(inner, { clock, log: (l) => lines.push(l), firstDelayMs: 100, maxDelayMs: 300 });
    let done = false;
    const loading = store.load("run-1").then(() => (done = true));
    await clock.advance(0);
    expect(store.unavailable).toBe(true);
    // 100, 200, 300 (capped), 300: the fifth try lands 900 ms after the first.
    await clock.advance(899);
    expect(done).toBe(false);
    expect(inner.calls.length).toBe(4);
    await clock.advance(1);
    await loading;
    expect(done).toBe(true);
    expect(store.unavailable).toBe(false);
    expect(lines.filter((l) => l.startsWith("run run-1: waiting for the store (connection refused)"))).toHaveLength(1);
    expect(lines.at(-1)).toMatch(/^store answers again after 0\.9 s \(connection refused\); 1 waiting run\(s\) carry on$/);
  });

  it("stays unavailable while any failed call still waits: on a full disk a read that answers does not end the outage of a write", async () => {
    const clock = new VirtualClock();
    const lines: string[] = [];
    const full = () => Object.assign(new Error("could not extend file: No space left on device"), { code: "53100" });
    let writes = 3;
    const inner = {
      appendLogs: () => (writes-- > 0 ? Promise.reject(full()) : Promise.resolve()),
      load: () => Promise.resolve(null),
    } as unknown as RunStore;
    const store = new OutageTolerantStore(inner, { clock, log: (l) => lines.push(l), firstDelayMs: 100, maxDelayMs: 100 });
    const writing = store.appendLogs({ runId: "run-1", stageId: "build", attempt: 1 }, [{ seq: 1, data: "x\n" }]);
    await clock.advance(0);
    expect(store.unavailable).toBe(true);
    await store.load("run-1");
    expect(store.unavailable, "a read that lands while the write still fails").toBe(true);
    expect(lines.some((l) => l.startsWith("store answers again"))).toBe(false);
    await clock.advance(300);
    await writing;
    expect(store.unavailable).toBe(false);
    expect(lines.at(-1)).toMatch(/^store answers again after 0\.3 s \(disk full\); 1 waiting run\(s\) carry on$/);
  });

  it("hands any other error to the caller at once", async () => {
    const clock = new VirtualClock();
    const inner = flakyStore(1, () => Object.assign(new Error("duplicate key"), { code: "23505" }));
    const store = new OutageTolerantStore(inner, { clock, log: () => undefined });
    await expect(store.load("run-1")).rejects.toThrow("duplicate key");
    expect(inner.calls.length).toBe(1);
    expect(store.unavailable).toBe(false);
  });

  it("ends the waits when stopped", async () => {
    const clock = new VirtualClock();
    const store = new OutageTolerantStore(flakyStore(100, refused), { clock, log: () => undefined });
    const loading = store.load("run-1");
    await clock.advance(0);
    store.stop();
    await expect(loading).rejects.toBeInstanceOf(StoreStoppedError);
  });
});
