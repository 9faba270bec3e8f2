/**
 * A control plane (and its local agents) in processes of their own, so a
 * benchmark can read each one's memory from /proc: the server runs
 * bench/control-plane-child.mjs on the compiled code, its local agents are
 * the real `hodei agent` processes it starts, and on PGlite the store process
 * it starts (src/store/sidecar). Peak RSS is the kernel's VmHWM,
 * reset (clear_refs 5) at the start of each measured interval.
 */
import { fork, type ChildProcess } from "node:child_process";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { RunPlannedData } from "../src/saga/events.js";
import { NODE_FLAGS } from "../src/server/node-flags.js";

const childScript = fileURLToPath(new URL("./control-plane-child.mjs", import.meta.url));

export interface ServerProcessOptions {
  databaseUrl?: string;
  dataDir: string;
  localAgents: number;
}

interface Reply {
  id: number;
  value?: unknown;
  error?: string;
}

export class ServerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private stderr = "";

  private constructor(private readonly child: ChildProcess) {
    child.stderr?.on("data", (b: Buffer) => (this.stderr = (this.stderr + b.toString()).slice(-4000)));
    child.on("message", (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.error !== undefined) p.reject(new Error(`control plane process: ${m.error}`));
      else p.resolve(m.value);
    });
    child.on("exit", (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`control plane process exited (${signal ?? code}): ${this.stderr}`));
      this.pending.clear();
    });
  }

  /** Starts the process and resolves once its local agents are connected. */
  static async start(options: ServerProcessOptions): Promise<ServerProcess> {
    // The flags `hodei server` runs with (its #! line), then BENCH_SERVER_NODE_ARGS: e.g.
    // "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the server, or "--trace-gc" with
    // BENCH_SERVER_STDOUT=1 to see its collections.
    const execArgv = [...NODE_FLAGS, ...(process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean)];
    const child = fork(childScript, [JSON.stringify(options)], { stdio: ["ignore", process.env.BENCH_SERVER_STDOUT ? "inherit" : "ignore", "pipe", "ipc"], execArgv });
    const server = new ServerProcess(child);
    // The child says `{ id: 0 }` once it is ready.
    await new Promise<void>((resolve, reject) => server.pending.set(0, { resolve: () => resolve(), reject }));
    return server;
  }

  get pid(): number {
    return this.child.pid!;
  }

  private request<T>(type: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: (v) => resolve(v as T), reject });
      this.child.send({ id, type, ...args });
    });
  }

  /** Runs `run` through the engine to its end; `ms` from start to completion, measured in the server. */
  run(run: RunPlannedData): Promise<{ id: string; ms: number; conclusion: string | null }> {
    return this.request("run", { run });
  }

  counters(): Promise<{ logMessages: number; logBytes: number }> {
    return this.request("counters");
  }

  log(runId: string, stageId: string): Promise<{ chunks: number; bytes: number; sha256: string }> {
    return this.request("log", { runId, stageId });
  }

  memory(): Promise<NodeJS.MemoryUsage> {
    return this.request("memory");
  }

  /** The local agents' processes (the server's children running `hodei agent`). */
  agentPids(): Promise<number[]> {
    return this.childPids((argv) => argv.includes("agent"));
  }

  /** The embedded store's process (src/store/sidecar/store-process.ts), on PGlite; none on Postgres. */
  async storePid(): Promise<number | undefined> {
    const [pid] = await this.childPids((argv) => argv.some((a) => a.endsWith("store-process.js")));
    return pid;
  }

  private async childPids(matches: (argv: string[]) => boolean): Promise<number[]> {
    const pids: number[] = [];
    for (const task of await readdir(`/proc/${this.pid}/task`)) {
      const children = await readFile(`/proc/${this.pid}/task/${task}/children`, "utf8").catch(() => "");
      for (const pid of children.split(" ").filter(Boolean).map(Number)) {
        const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
        if (matches(cmdline.split("\0"))) pids.push(pid);
      }
    }
    return pids;
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    await this.request("stop").catch(() => this.child.kill("SIGKILL"));
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Starts a new peak-RSS interval for `pid`: its VmHWM becomes its current RSS. */
export async function resetPeakRss(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, "5");
}

/** The process's peak RSS (VmHWM) since it started or since resetPeakRss, in MB (10^6 bytes). */
export async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return (Number(kb) * 1024) / 1e6;
}
