/**
 * A real `hodei server` process for the benchmarks that need one (webhook
 * acknowledgement, recovery): started in its own process group so that a
 * kill takes its local agents with it, its output watched as it arrives
 * (no polling interval in the measured times).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const hodeiBin = fileURLToPath(new URL("../bin/hodei.js", import.meta.url));
const repoRoot = fileURLToPath(new URL("../", import.meta.url));

const KEEP = 64 * 1024;

export interface ServerProcess {
  child: ChildProcess;
  /** The last 64 KiB it printed. */
  output(): string;
  /** Resolves with performance.now() when a line matching `pattern` is printed (at once if one was). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<number>;
  /** SIGKILLs the server and every process of its group (its local agents). */
  kill(): Promise<void>;
}

/** `nodeArgs`: e.g. `--cpu-prof` to profile the server (the profile is written on a clean exit: SIGTERM, not kill()). */
export function startServerProcess(env: NodeJS.ProcessEnv, nodeArgs: readonly string[] = []): ServerProcess {
  const child = spawn(process.execPath, [...nodeArgs, hodeiBin, "server"], {
    cwd: repoRoot,
    env: { ...process.env, DATABASE_URL: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let out = "";
  const waiters = new Set<{ pattern: RegExp; resolve: (at: number) => void }>();
  const onData = (b: Buffer) => {
    const at = performance.now();
    // Only a tail is kept: under load the server logs every request, and the bench shares its cores.
    const seen = out.slice(-KEEP) + b.toString();
    out = seen.slice(-KEEP);
    for (const w of waiters) {
      if (w.pattern.test(seen)) {
        waiters.delete(w);
        w.resolve(at);
      }
    }
  };
  child.stdout.on("data", onData);
  child.stderr.on("data", onData);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => out,
    waitFor(pattern, timeoutMs = 60_000) {
      if (pattern.test(out)) return Promise.resolve(performance.now());
      return new Promise((resolve, reject) => {
        const waiter = { pattern, resolve };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`hodei server printed nothing matching ${pattern} in ${timeoutMs} ms; its output:\n${out.slice(-4000)}`));
        }, timeoutMs);
        waiter.resolve = (at) => {
          clearTimeout(timer);
          resolve(at);
        };
        waiters.add(waiter);
        void exited.then(() => {
          if (!waiters.delete(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`hodei server exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}; its output:\n${out.slice(-4000)}`));
        });
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await exited;
    },
  };
}
