/**
 * The clean-up rules both per-attempt provisioners share, case by case: what
 * a listing of the store's containers or pods finds is re-adopted, removed or
 * left alone according to where its attempt stands and who made it. (The
 * docker and kubernetes tests and server-restart.test.ts run the same rules
 * against the real engine and the API stand-in.)
 */
import { describe, expect, it } from "vitest";
import type { AttemptRef } from "../../src/engine/ports.js";
import type { AttemptStatus, ProvisionerHooks } from "../../src/providers/provider.js";
import { ProvisionedAttempts, type FoundObject } from "../../src/providers/provisioned-attempts.js";

const ref = (stageId: string, attempt = 1): AttemptRef => ({ runId: "run-1", stageId, attempt });

function setup(statuses: Record<string, AttemptStatus>) {
  const destroyed: string[] = [];
  const adopted: string[] = [];
  const failed: { stageId: string; reason: string }[] = [];
  const hooks: ProvisionerHooks = {
    server: "127.0.0.1:1",
    agentCredentials: () => Promise.resolve({}),
    attemptStatus: (r) => Promise.resolve(statuses[r.stageId] ?? "over"),
    failed: (r, _provider, reason) => failed.push({ stageId: r.stageId, reason }),
    log: () => undefined,
  };
  const attempts = new ProvisionedAttempts<string>({
    provider: "test",
    hooks,
    provisionTimeoutMs: 50,
    destroy: (h) => {
      destroyed.push(h);
      return Promise.resolve();
    },
    silentDetail: (t) => Promise.resolve(` (handle ${t.handle ?? "none"})`),
    watchAdopted: (t) => adopted.push(t.handle ?? "?"),
  });
  return { attempts, destroyed, adopted, failed };
}

const found = (handle: string, stageId: string | null, mine: boolean, running = true): FoundObject<string> => ({
  handle,
  ref: stageId ? ref(stageId) : null,
  mine,
  running,
});

describe("ProvisionedAttempts.reconcile", () => {
  it("at start-up re-adopts its own running worker of a taken attempt and removes its others", async () => {
    const { attempts, destroyed, adopted } = setup({ taken: "taken", waiting: "waiting", exited: "taken", over: "over" });
    const result = await attempts.reconcile(
      [found("c-taken", "taken", true), found("c-waiting", "waiting", true), found("c-exited", "exited", true, false), found("c-over", "over", true), found("c-unlabelled", null, true)],
      true,
    );
    expect(adopted).toEqual(["c-taken"]);
    expect(destroyed).toEqual(["c-waiting", "c-exited", "c-over", "c-unlabelled"]);
    expect(result).toEqual({ adopted: 1, removed: 4 });
    expect(attempts.get(ref("taken"))?.handle).toBe("c-taken");
  });

  it("leaves another control plane's workers alone until their attempt is over, then removes them", async () => {
    const { attempts, destroyed, adopted } = setup({ taken: "taken", waiting: "waiting", over: "over" });
    const others = [found("o-taken", "taken", false), found("o-waiting", "waiting", false), found("o-over", "over", false)];
    expect(await attempts.reconcile(others, true)).toEqual({ adopted: 0, removed: 1 });
    expect(await attempts.reconcile(others, false)).toEqual({ adopted: 0, removed: 1 });
    expect(adopted).toEqual([]);
    expect(destroyed).toEqual(["o-over", "o-over"]);
  });

  it("after start-up adopts nothing and removes only workers of attempts that are over", async () => {
    const { attempts, destroyed, adopted } = setup({ taken: "taken", waiting: "waiting" });
    expect(await attempts.reconcile([found("c-taken", "taken", true), found("c-waiting", "waiting", true), found("c-gone", "gone", true)], false)).toEqual({ adopted: 0, removed: 1 });
    expect(adopted).toEqual([]);
    expect(destroyed).toEqual(["c-gone"]);
  });

  it("releases a tracked worker whose attempt is over, and a re-adopted one when the engine releases it", async () => {
    const statuses: Record<string, AttemptStatus> = { mine: "taken", adopted: "taken" };
    const { attempts, destroyed } = setup(statuses);
    const t = attempts.begin(ref("mine"))!;
    t.handle = "c-mine";
    await attempts.reconcile([found("c-adopted", "adopted", true)], true);
    statuses.mine = "over";
    await attempts.reconcile([found("c-mine", "mine", true)], false);
    expect(destroyed).toEqual(["c-mine"]);
    expect(attempts.get(ref("mine"))).toBeUndefined();
    attempts.release(ref("adopted"));
    expect(destroyed).toEqual(["c-mine", "c-adopted"]);
    // Released twice (the engine, then the periodic clean-up): removed once.
    attempts.release(ref("adopted"));
    expect(destroyed).toEqual(["c-mine", "c-adopted"]);
  });

  it("ends an attempt whose agent has not connected by the deadline, once, with the detail", async () => {
    const { attempts, destroyed, failed } = setup({ silent: "waiting", fine: "taken" });
    const silent = attempts.begin(ref("silent"))!;
    silent.handle = "c-silent";
    attempts.begin(ref("fine"))!.handle = "c-fine";
    expect(attempts.begin(ref("silent"))).toBeNull();
    await new Promise((r) => setTimeout(r, 150));
    expect(failed).toEqual([{ stageId: "silent", reason: "the agent did not connect within 0 s of provisioning (handle c-silent)" }]);
    expect(destroyed).toEqual(["c-silent"]);
    attempts.fail(silent, "again");
    expect(failed).toHaveLength(1);
    await attempts.stop();
    expect(destroyed).toEqual(["c-silent", "c-fine"]);
    expect(attempts.begin(ref("late"))).toBeNull();
  });
});
