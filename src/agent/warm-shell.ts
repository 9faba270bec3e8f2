/**
 * The shell a stage's command runs in: `sh -s`, which reads its script from
 * its stdin, a pipe from the agent. The script changes to the workspace,
 * exports the stage's variables and secrets, turns on `-e` and evaluates the
 * command, so nothing of the stage is in an argv, a file, or the agent's own
 * environment, and the command runs in the very process the agent started
 * (one process start per command; `sh -s` reads its input in blocks, where a
 * `read` loop takes one system call per byte). By the time the shell runs
 * the command it has read the whole script, so the command's stdin is at end
 * of file.
 *
 * Starting a process from the agent costs a fork of the agent's whole address
 * space; `WarmShells` keeps one such shell started ahead of need, so that cost
 * is off the stage's path. Each shell has its own session from the start
 * (detached), so the stage it runs is a process group that cancel and timeout
 * can kill whole.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A name `export` takes (stage-process.ts refuses a stage with any other). */
export const exportableName = (name: string): boolean => NAME.test(name);

export const shellQuote = (value: string): string => `'${value.replace(/'/g, "'\\''")}'`;

/** The script a stage shell runs for one command; the caller has checked every name in `variables` with exportableName. */
export function stageScript(command: string, cwd: string, variables: Readonly<Record<string, string>>): string {
  let script = `cd ${shellQuote(cwd)} || exit 126\n`;
  for (const [name, value] of Object.entries(variables)) script += `export ${name}=${shellQuote(value)}\n`;
  return `${script}set -e\neval ${shellQuote(command)}\n`;
}

/** Starts a stage shell waiting for its script. */
export function startStageShell(env: Record<string, string>): ChildProcessWithoutNullStreams {
  const shell = spawn("/bin/sh", ["-s"], { cwd: "/", env, stdio: ["pipe", "pipe", "pipe"], detached: true });
  // A shell that died before reading its script must not crash the agent.
  shell.stdin.on("error", () => undefined);
  return shell;
}

export class WarmShells {
  private spare: ChildProcessWithoutNullStreams | null = null;
  private stopped = false;

  constructor(private readonly environment: () => Record<string, string>) {}

  /** A waiting shell, or null when none is ready; the owner decides when to start the next (`refill`). */
  take(): ChildProcessWithoutNullStreams | null {
    const shell = this.spare;
    this.spare = null;
    if (!shell || shell.exitCode !== null || shell.signalCode !== null) return null;
    return shell;
  }

  /**
   * Starts the spare now, unless there is one. Starting a process blocks the
   * agent's loop until the child has exec'd (a fork of the agent, then an
   * exec that unmaps its copy): the agent does it when it has nothing more
   * urgent, once connected and after a stage's result is reported.
   */
  refill(): void {
    if (this.stopped || this.spare) return;
    const shell = startStageShell(this.environment());
    shell.on("error", () => undefined);
    this.spare = shell;
  }

  /** Ends the spare; no stage is running in it. */
  stop(): void {
    this.stopped = true;
    const shell = this.spare;
    this.spare = null;
    if (shell?.pid !== undefined && shell.exitCode === null) {
      try {
        process.kill(-shell.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
}
