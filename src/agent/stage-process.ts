/**
 * Runs a stage's commands, each in its own `sh` with `-e`, in their own
 * process group so that cancel and timeout kill the whole tree, background
 * children included (SPEC 7). Output of stdout and stderr goes to `onOutput`
 * in arrival order, with the stage's secrets masked.
 *
 * The workspace, the variables and the secrets reach the command's shell as
 * a script on its stdin (warm-shell.ts): secrets are never in an argv, a
 * file, or the agent's own environment. With `shells`, a command starts in a
 * shell the agent started ahead of need.
 */
import { StringDecoder } from "node:string_decoder";
import { SecretMasker } from "./masker.js";
import { exportableName, stageScript, startStageShell, type WarmShells } from "./warm-shell.js";

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
  /** Name → value, set in the command's environment only. */
  secrets?: Readonly<Record<string, string>>;
  /** When closed, the stage's output pipes are paused (and so, once they fill, the stage). */
  gate?: OutputGate;
  /** Between SIGTERM and SIGKILL; default DEFAULT_KILL_GRACE_MS. */
  killGraceMs?: number;
  /** Shells started ahead of need; without them each command starts its own. */
  shells?: WarmShells;
  /** Told of each command's process group while it lives (the agent's dead man's switch, group-watchdog.ts). */
  groups?: { guard(pgid: number): void; release(pgid: number): void };
}

/** The host variables a stage inherits; everything else comes from the assignment. */
/** How long a cancelled or timed-out stage's process group has between SIGTERM and SIGKILL. */
export const DEFAULT_KILL_GRACE_MS = 10_000;

const INHERITED = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL", "TERM"];

/** Flow control between the stage's output and the connection to the server. */
export interface OutputGate {
  readonly open: boolean;
  /** Resolves when the gate is open again. */
  whenOpen(): Promise<void>;
}

/**
 * Why the stage cannot run, when a variable or secret has a name a shell
 * cannot export (the pipeline schema allows none: an assignment from elsewhere).
 */
function unexportableName(options: StageProcessOptions): string | null {
  const names: [kind: string, name: string][] = [
    ...Object.keys(options.env).map((n): [string, string] => ["variable", n]),
    ...Object.keys(options.secrets ?? {}).map((n): [string, string] => ["secret", n]),
  ];
  const bad = names.find(([, name]) => !exportableName(name));
  return bad ? `${bad[0]} name ${JSON.stringify(bad[1])} is not a valid environment variable name` : null;
}

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
  const secrets = Object.values(options.secrets ?? {});
  const refusal = unexportableName(options);
  if (refusal) return { outcome: "failure", exitCode: null, reason: refusal };
  for (const command of options.commands) {
    if (options.signal.aborted) return { outcome: "cancelled", exitCode: null, reason: reasonOf(options.signal) };
    options.onOutput(new SecretMasker(secrets).mask(`$ ${firstLine(command)}\n`));
    const result = await runOne(command, options, deadline);
    exitCode = result.exitCode;
    if (result.outcome !== "success") return result;
  }
  return { outcome: "success", exitCode: exitCode ?? 0, reason: null };
}

function runOne(command: string, options: StageProcessOptions, deadline: number): Promise<StageResult> {
  return new Promise((resolve) => {
    const secrets = Object.values(options.secrets ?? {});
    const child = options.shells?.take() ?? startStageShell(baseEnvironment());
    if (child.pid !== undefined) options.groups?.guard(child.pid);
    child.stdin.end(stageScript(command, options.cwd, { ...options.env, ...(options.secrets ?? {}) }));
    const streams = [
      { pipe: child.stdout, decoder: new StringDecoder("utf8"), masker: new SecretMasker(secrets) },
      { pipe: child.stderr, decoder: new StringDecoder("utf8"), masker: new SecretMasker(secrets) },
    ];
    let paused = false;
    const throttle = () => {
      const gate = options.gate;
      if (!gate || gate.open || paused) return;
      paused = true;
      for (const s of streams) s.pipe.pause();
      void gate.whenOpen().then(() => {
        paused = false;
        for (const s of streams) s.pipe.resume();
      });
    };
    for (const s of streams) {
      s.pipe.on("data", (b: Buffer) => {
        options.onOutput(s.masker.push(s.decoder.write(b)));
        throttle();
      });
    }

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
      setTimeout(() => killTree("SIGKILL"), options.killGraceMs ?? DEFAULT_KILL_GRACE_MS).unref();
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
      resolve({ outcome: "failure", exitCode: null, reason: `could not start /bin/sh: ${error.message}` });
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      options.signal.removeEventListener("abort", onAbort);
      // Background children of the script die with it: nothing of a stage outlives it.
      killTree("SIGKILL");
      if (child.pid !== undefined) options.groups?.release(child.pid);
      const finish = () => {
        for (const s of streams) options.onOutput(s.masker.push(s.decoder.end()) + s.masker.flush());
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
      // While flow control holds the pipes paused, what is left in them is still coming.
      const patience = () => (paused ? setTimeout(patience, 100).unref() : once());
      setTimeout(patience, 500).unref();
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
