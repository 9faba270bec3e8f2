/**
 * The stage processes' dead man's switch. A stage runs in a process group of
 * its own, so an agent frozen with SIGSTOP (or starved) leaves its stages
 * running while the server, hearing no heartbeat, records them lost and
 * leases a retry elsewhere: two copies of one stage at once. This small
 * process, in a group of its own too, holds the stage groups' ids; the agent
 * pets it on every tick of its own clock, and when no pet comes for
 * `toleranceMs` (lease minus one heartbeat interval) it SIGKILLs every group
 * it holds. The server expires a lease no sooner than `leaseMs` after the
 * last heartbeat it read, which the agent sent after its last pet, so the
 * stages are dead one heartbeat interval before their retry can be leased.
 * When the agent's end of the pipe closes (the agent died), it kills them too.
 */
import { spawn, type ChildProcess } from "node:child_process";

const SCRIPT = `
const tolerance = Number(process.argv[1]);
const groups = new Set();
let timer = null;
const fire = () => {
  for (const g of groups) { try { process.kill(-g, "SIGKILL"); } catch {} }
  groups.clear();
};
const pet = () => { if (timer) clearTimeout(timer); timer = setTimeout(fire, tolerance); };
let buffered = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => {
  buffered += d;
  for (let i; (i = buffered.indexOf("\\n")) >= 0; ) {
    const line = buffered.slice(0, i);
    buffered = buffered.slice(i + 1);
    if (line[0] === "+") groups.add(Number(line.slice(1)));
    else if (line[0] === "-") groups.delete(Number(line.slice(1)));
    pet();
  }
});
process.stdin.on("end", () => { fire(); process.exit(0); });
pet();
`;

export class GroupWatchdog {
  private child: ChildProcess | null = null;

  constructor(private readonly toleranceMs: number) {}

  start(): void {
    if (this.child) return;
    const child = spawn(process.execPath, ["--max-old-space-size=16", "-e", SCRIPT, String(Math.max(1, Math.round(this.toleranceMs)))], {
      stdio: ["pipe", "ignore", "inherit"],
      detached: true,
    });
    child.on("error", () => undefined);
    child.stdin?.on("error", () => undefined);
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    this.child = child;
  }

  pet(): void {
    this.write("p");
  }

  /** A stage's process group, killed if the agent stands still. */
  guard(pgid: number): void {
    this.write(`+${pgid}`);
  }

  release(pgid: number): void {
    this.write(`-${pgid}`);
  }

  /** Ends the watchdog; the groups it still holds are killed. */
  stop(): void {
    this.child?.stdin?.end();
    this.child = null;
  }

  private write(line: string): void {
    const stdin = this.child?.stdin;
    if (stdin && !stdin.destroyed) stdin.write(`${line}\n`);
  }
}
