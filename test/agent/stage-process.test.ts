import { describe, expect, it } from "vitest";
import { DEFAULT_KILL_GRACE_MS, runStageProcess, type StageProcessOptions } from "../../src/agent/stage-process.js";
import { WarmShells } from "../../src/agent/warm-shell.js";
import { tempDir } from "../helpers/databases.js";
import { waitUntil } from "../helpers/wait-until.js";

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
const printedReady = (s: { output(): string }) => waitUntil("the stage printed ready", () => s.output().includes("\nready\n"));

describe("stopping a stage's process group", () => {
  it("gives 10 s between SIGTERM and SIGKILL by default", () => {
    expect(DEFAULT_KILL_GRACE_MS).toBe(10_000);
  });

  it("sends SIGTERM first, so a stage's trap can clean up before it ends", async () => {
    const abort = new AbortController();
    const s = await stage("trap 'echo cleaning up; exit 3' TERM; printf 'rea%sdy\\n' ''; sleep 1000 & wait", abort.signal);
    await printedReady(s);
    abort.abort(new Error("cancelled by test"));
    const result = await s.done;
    expect(result.outcome).toBe("cancelled");
    expect(s.output()).toContain("cleaning up");
  });

  it("sends SIGKILL after the grace period to a stage that ignores SIGTERM", async () => {
    const abort = new AbortController();
    const s = await stage("trap '' TERM; printf 'rea%sdy\\n' ''; sleep 1000", abort.signal, { killGraceMs: 300 });
    await printedReady(s);
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

describe("a stage's variables", () => {
  it("reach the command in a warm shell, the stage's values over the host's", async () => {
    const shells = new WarmShells(() => ({ PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/host-home" }));
    shells.refill();
    try {
      const s = await stage(`env | grep -E '^(PLAIN|HOME)=' | sort`, new AbortController().signal, {
        shells,
        env: { PLAIN: "it's plain", HOME: "/stage-home" },
      });
      expect(await s.done).toMatchObject({ outcome: "success", exitCode: 0 });
      expect(s.output()).toContain("HOME=/stage-home\nPLAIN=it's plain\n");
    } finally {
      shells.stop();
    }
  });

  it("see a multi-line command with a here-document and a trailing comment as sh -e -c would", async () => {
    const s = await stage("cat <<EOF\nfrom a here-doc: $GREETING\nEOF\nexit 3 # the end", new AbortController().signal, { env: { GREETING: "hi" } });
    expect(await s.done).toMatchObject({ outcome: "failure", exitCode: 3 });
    expect(s.output()).toContain("from a here-doc: hi\n");
  });

  it("fail the stage, naming the variable, when a shell cannot export a name", async () => {
    for (const [extra, message] of [
      [{ env: { "ODD-NAME": "x" } }, 'variable name "ODD-NAME" is not a valid environment variable name'],
      [{ secrets: { "1TOKEN": "x" } }, 'secret name "1TOKEN" is not a valid environment variable name'],
    ] as const) {
      const s = await stage("echo ran", new AbortController().signal, extra);
      expect(await s.done).toEqual({ outcome: "failure", exitCode: null, reason: message });
      expect(s.output()).not.toContain("ran");
    }
  });

  it("are in the warm shell only as the stage's environment, not in a variable holding its script", async () => {
    const shells = new WarmShells(() => ({ PATH: process.env.PATH ?? "/usr/bin:/bin" }));
    shells.refill();
    try {
      const s = await stage(`set | grep -c -e 3cret-value || true`, new AbortController().signal, {
        shells,
        secrets: { TOKEN: "s3cret-value" },
      });
      expect(await s.done).toMatchObject({ outcome: "success" });
      // Once, as TOKEN itself.
      expect(s.output()).toMatch(/^1$/m);
    } finally {
      shells.stop();
    }
  });
});

describe("a command in a shell started ahead of need", () => {
  const tricky = `printf '%s\\n' "it's \\"quoted\\" \\\\ back"
echo "$GREETING from $(basename "$PWD")"
printf '%s\n' "$TOKEN" | tr 'a-z' 'A-Z'
if grep -qF -- "$TOKEN" /proc/$$/cmdline; then echo LEAK-cmdline; fi
cat; echo stdin-at-end; false; printf 'not-%s\\n' reached`;

  it("gets the workspace, variables and secrets over its stdin, and runs with sh -e", async () => {
    const shells = new WarmShells(() => ({ PATH: process.env.PATH ?? "/usr/bin:/bin" }));
    shells.refill();
    try {
      // Twice: the first uses the spare started above, the second one started after it, as the agent does after a result.
      for (let i = 0; i < 2; i++) {
        if (i > 0) shells.refill();
        const s = await stage(tricky, new AbortController().signal, {
          shells,
          env: { GREETING: "hello" },
          secrets: { TOKEN: "s3cr'et value" },
        });
        const result = await s.done;
        expect(result).toMatchObject({ outcome: "failure", exitCode: 1 });
        expect(s.output()).toContain(`it's "quoted" \\ back\n`);
        expect(s.output()).toMatch(/hello from hodei-stage-/);
        expect(s.output()).toContain("S3CR'ET VALUE\n");
        expect(s.output()).toContain("stdin-at-end\n");
        expect(s.output()).not.toContain("LEAK");
        expect(s.output()).not.toContain("not-reached\n");
      }
    } finally {
      shells.stop();
    }
  });

  it("runs the command in the spare itself; taking it leaves the next start to refill", async () => {
    const shells = new WarmShells(() => ({ PATH: process.env.PATH ?? "/usr/bin:/bin" }));
    const spareOf = () => (shells as unknown as { spare: { pid: number } | null }).spare;
    shells.refill();
    try {
      const pid = spareOf()!.pid;
      const s = await stage('echo "shell $$"', new AbortController().signal, { shells });
      expect(await s.done).toMatchObject({ outcome: "success" });
      expect(s.output()).toContain(`shell ${pid}\n`);
      expect(spareOf()).toBeNull();
      shells.refill();
      expect(spareOf()!.pid).not.toBe(pid);
    } finally {
      shells.stop();
    }
  });

  it("is one process group with what it starts: cancel ends it all", async () => {
    const shells = new WarmShells(() => ({ PATH: process.env.PATH ?? "/usr/bin:/bin" }));
    shells.refill();
    try {
      const abort = new AbortController();
      const s = await stage(`sleep 1000 & echo "background $!"; printf 'rea%sdy\\n' ''; wait`, abort.signal, { shells });
      await printedReady(s);
      const pid = Number(/background (\d+)/.exec(s.output())?.[1]);
      expect(pid).toBeGreaterThan(0);
      abort.abort("cancelled by test");
      expect((await s.done).outcome).toBe("cancelled");
      await waitUntil("the background process is gone", () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      });
    } finally {
      shells.stop();
    }
  });

  it("is not used once it has died: the command starts the usual way", async () => {
    const shells = new WarmShells(() => ({ PATH: process.env.PATH ?? "/usr/bin:/bin" }));
    shells.refill();
    const spare = (shells as unknown as { spare: { pid: number; once(e: string, f: () => void): void } }).spare;
    await new Promise<void>((resolve) => {
      spare.once("exit", resolve);
      process.kill(spare.pid, "SIGKILL");
    });
    try {
      const s = await stage("echo still-runs", new AbortController().signal, { shells });
      expect(await s.done).toMatchObject({ outcome: "success" });
      expect(s.output()).toContain("still-runs\n");
    } finally {
      shells.stop();
    }
  });
});
