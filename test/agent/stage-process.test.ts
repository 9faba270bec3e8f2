import { describe, expect, it } from "vitest";
import { DEFAULT_KILL_GRACE_MS, runStageProcess, type StageProcessOptions } from "../../src/agent/stage-process.js";
import { tempDir } from "../helpers/databases.js";

async function stage(command: string, signal: AbortSignal, extra: Partial<StageProcessOptions> = {}) {
  let output = "";
  const done = runStageProcess({
    commands: [command],
    cwd: await tempDir("hodei-stage-"),
    env: {},
    timeoutSeconds: 60,
    onOutput: (t) => (output += t),
    signal,
    ...extra,
  });
  return { done, output: () => output };
}

// The stage's output starts with its command line, so the marker is printed in a form that line does not contain.
async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("stopping a stage's process group", () => {
  it("gives 10 s between SIGTERM and SIGKILL by default", () => {
    expect(DEFAULT_KILL_GRACE_MS).toBe(10_000);
  });

  it("sends SIGTERM first, so a stage's trap can clean up before it ends", async () => {
    const abort = new AbortController();
    const s = await stage("trap 'echo cleaning up; exit 3' TERM; printf 'rea%sdy\\n' ''; sleep 1000 & wait", abort.signal);
    await until(() => s.output().includes("\nready\n"));
    abort.abort(new Error("cancelled by test"));
    const result = await s.done;
    expect(result.outcome).toBe("cancelled");
    expect(s.output()).toContain("cleaning up");
  });

  it("sends SIGKILL after the grace period to a stage that ignores SIGTERM", async () => {
    const abort = new AbortController();
    const s = await stage("trap '' TERM; printf 'rea%sdy\\n' ''; sleep 1000", abort.signal, { killGraceMs: 300 });
    await until(() => s.output().includes("\nready\n"));
    const started = Date.now();
    abort.abort(new Error("cancelled by test"));
    const result = await s.done;
    expect(result.outcome).toBe("cancelled");
    // Ended by the SIGKILL after 300 ms, not by the sleep.
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("a stage without secrets", () => {
  it("runs its command with sh -e and stdin at end of file, as with secrets", async () => {
    for (const secrets of [{}, { TOKEN: "s3cret-value" }] as Record<string, string>[]) {
      const s = await stage("cat; echo read-stdin; false; printf 'not-%s\\n' reached", new AbortController().signal, { secrets });
      const result = await s.done;
      expect(result).toMatchObject({ outcome: "failure", exitCode: 1 });
      expect(s.output()).toContain("read-stdin\n");
      expect(s.output()).not.toContain("not-reached\n");
      expect(s.output()).not.toContain("export");
    }
  });
});
