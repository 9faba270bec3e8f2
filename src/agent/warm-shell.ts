/**
 * A shell started before it is needed. Starting a process from the agent
 * costs a fork of the agent's whole address space, which grows with the
 * agent's memory (a few milliseconds at its usual size, more on a busy
 * machine); a waiting `sh` moves that cost off the stage's path. The shell
 * reads a script from its stdin, a pipe from the agent, with builtins only,
 * then runs it: change to the workspace, export the stage's variables and
 * secrets, and exec the command's own `sh -e -c`. Like the launcher, nothing
 * of the stage is in an argv but the command, nor on disk.
 *
 * Its own session from the start (detached), so the stage it becomes is a
 * process group that cancel and timeout can kill whole.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";

/** Reads stdin to its end (the last line may lack a newline) and evaluates it. */
export const WARM_SHELL_SCRIPT = `script=''
while IFS= read -r line || [ -n "$line" ]; do script="$script$line
"; done
eval "$script"`;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const shellQuote = (value: string): string => `'${value.replace(/'/g, "'\\''")}'`;

/**
 * The script a warm shell runs for one command; null when a variable's name
 * cannot be exported by a shell (the stage then starts the usual way).
 */
export function warmScript(command: string, cwd: string, variables: Readonly<Record<string, string>>): string | null {
  let script = `cd ${shellQuote(cwd)} || exit 126\n`;
  for (const [name, value] of Object.entries(variables)) {
    if (!NAME.test(name)) return null;
    script += `export ${name}=${shellQuote(value)}\n`;
  }
  return `${script}exec /bin/sh -e -c ${shellQuote(command)}\n`;
}

export class WarmShells {
  private spare: ChildProcessWithoutNullStreams | null = null;
  private stopped = false;

  constructor(private readonly environment: () => Record<string, string>) {}

  /** A waiting shell, or null when none is ready (a new one is started for next time either way). */
  take(): ChildProcessWithoutNullStreams | null {
    const shell = this.spare;
    this.spare = null;
    if (!this.stopped) setImmediate(() => this.refill());
    if (!shell || shell.exitCode !== null || shell.signalCode !== null) return null;
    return shell;
  }

  /** Starts the spare now (the agent does once connected, so the first stage finds one). */
  refill(): void {
    if (this.stopped || this.spare) return;
    const shell = spawn("/bin/sh", ["-c", WARM_SHELL_SCRIPT, "hodei-stage"], {
      cwd: "/",
      env: this.environment(),
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    shell.on("error", () => undefined);
    shell.stdin.on("error", () => undefined);
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
