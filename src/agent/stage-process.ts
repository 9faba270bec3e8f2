/**
 * Runs a stage's commands, one `sh -e -c` each, in their own process group so
 * that cancel and timeout kill the whole tree, background children included
 * (SPEC 7). Output of stdout and stderr goes to `onOutput` in arrival order.
 */
import { spawn } from "node:child_process";
import { StringDecoder } from "node:string_decoder";

export type StageOutcome = "success" | "failure" | "timed_out" | "cancelled";

export interface StageResult {
  outcome: StageOutcome;
  /** The exit code of the last command run; null when killed. */
  exitCode: number | null;
  reason: string | null;
}

export interface StageProcessOptions {
  commands: readonly string[];
  cwd: string;
  env: Record<string, string>;
  timeoutSeconds: number;
  onOutput: (text: string) => void;
  signal: AbortSignal;
  /** Between SIGTERM and SIGKILL. */
  killGraceMs?: number;
}

/** The host variables a stage inherits; everything else comes from the assignment. */
const INHERITED = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL", "TERM"];

export function baseEnvironment(host: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of INHERITED) {
    const value = host[key];
    if (value !== undefined) env[key] = value;
  }
  return env;
}

export async function runStageProcess(options: StageProcessOptions): Promise<StageResult> {
  const deadline = Date.now() + options.timeoutSeconds * 1000;
  let exitCode: number | null = null;
  for (const command of options.commands) {
    if (options.signal.aborted) return { outcome: "cancelled", exitCode: null, reason: reasonOf(options.signal) };
    options.onOutput(`$ ${firstLine(command)}\n`);
    const result = await runOne(command, options, deadline);
    exitCode = result.exitCode;
    if (result.outcome !== "success") return result;
  }
  return { outcome: "success", exitCode: exitCode ?? 0, reason: null };
}

function runOne(command: string, options: StageProcessOptions, deadline: number): Promise<StageResult> {
  return new Promise((resolve) => {
    const child = spawn("/bin/sh", ["-e", "-c", command], {
      cwd: options.cwd,
      env: { ...baseEnvironment(), ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const decoders = { out: new StringDecoder("utf8"), err: new StringDecoder("utf8") };
    child.stdout.on("data", (b: Buffer) => options.onOutput(decoders.out.write(b)));
    child.stderr.on("data", (b: Buffer) => options.onOutput(decoders.err.write(b)));

    let ending: StageResult | null = null;
    const killTree = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // The group is already gone.
      }
    };
    const stop = (result: StageResult) => {
      if (ending) return;
      ending = result;
      killTree("SIGTERM");
      setTimeout(() => killTree("SIGKILL"), options.killGraceMs ?? 5_000).unref();
    };
    const timer = setTimeout(
      () => stop({ outcome: "timed_out", exitCode: null, reason: `timed out after ${options.timeoutSeconds}s` }),
      Math.max(0, deadline - Date.now()),
    );
    const onAbort = () => stop({ outcome: "cancelled", exitCode: null, reason: reasonOf(options.signal) });
    options.signal.addEventListener("abort", onAbort, { once: true });

    child.on("error", (error) => {
      clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
      resolve({ outcome: "failure", exitCode: null, reason: `could not start sh: ${error.message}` });
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
      // Background children of the script die with it: nothing of a stage outlives it.
      killTree("SIGKILL");
      const finish = () => {
        options.onOutput(decoders.out.end() + decoders.err.end());
        if (ending) return resolve(ending);
        if (code === 0) return resolve({ outcome: "success", exitCode: 0, reason: null });
        resolve({
          outcome: "failure",
          exitCode: code,
          reason: code === null ? `killed by ${signal ?? "a signal"}` : `exit code ${code}`,
        });
      };
      // Wait for the pipes to drain, but not for a grandchild that holds them open.
      let done = false;
      const once = () => {
        if (!done) {
          done = true;
          finish();
        }
      };
      child.on("close", once);
      setTimeout(once, 500).unref();
    });
  });
}

function firstLine(command: string): string {
  const lines = command.trim().split("\n");
  return lines.length > 1 ? `${lines[0]} …` : (lines[0] ?? "");
}

function reasonOf(signal: AbortSignal): string {
  return typeof signal.reason === "string" ? signal.reason : "cancelled";
}
