/**
 * Starts the control plane's git processes from a small helper process.
 *
 * Starting a process from Node forks the whole parent first, and a fork costs
 * in proportion to the parent's memory: about 4 ms from a fresh Node process,
 * 25 ms at 300 MB, 100 ms at 1 GB (this machine), with the event loop stopped
 * meanwhile. The control plane (PGlite's heap, many runs' state) is that
 * large, and a push takes several git processes. The helper, a bare Node
 * process started once, forks at its own small size instead.
 *
 * Requests go over the IPC channel (never argv or disk): file, arguments,
 * the full environment (which may hold a fetch's credential header), and
 * standard input, a time limit; the reply is the exit code and both outputs
 * (or that the time ran out and the process group was killed). The helper
 * exits with its parent (the channel closes). If it cannot be started or
 * dies, processes are started directly, as before.
 */
import { spawn, type ChildProcess } from "node:child_process";

export interface SpawnRequest {
  file: string;
  args: readonly string[];
  env: Record<string, string>;
  input?: string;
  /** Past this, the process and everything it started (its process group) are killed. */
  timeoutMs?: number;
}

export interface SpawnResult {
  /** null: the process could not be started (`stderr` says why). */
  code: number | null;
  stdout: Buffer;
  stderr: string;
  /** The process ran past `timeoutMs` and was killed. */
  timedOut?: boolean;
}

/** The helper's code, run with `node -e`: no file to find, whether Hodei runs from src, dist or a bundle. */
const HELPER_SOURCE = `
const { spawn } = require("node:child_process");
process.on("disconnect", () => process.exit(0));
process.on("message", (m) => {
  let done = false;
  let timer;
  const reply = (code, stdout, stderr, timedOut) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    process.send({ id: m.id, code, stdout, stderr, timedOut });
  };
  let child;
  try {
    child = spawn(m.file, m.args, { env: m.env, detached: true, stdio: [m.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
  } catch (e) {
    reply(null, Buffer.alloc(0), String(e && e.message));
    return;
  }
  const out = [];
  const err = [];
  child.stdout.on("data", (b) => out.push(b));
  child.stderr.on("data", (b) => err.push(b));
  child.on("error", (e) => reply(null, Buffer.alloc(0), e.message));
  child.on("close", (code) => reply(code, Buffer.concat(out), Buffer.concat(err).toString("utf8")));
  if (m.timeoutMs !== undefined) {
    timer = setTimeout(() => {
      try { process.kill(-child.pid, "SIGKILL"); } catch {}
      reply(null, Buffer.concat(out), Buffer.concat(err).toString("utf8"), true);
    }, m.timeoutMs);
  }
  if (child.stdin) {
    child.stdin.on("error", () => undefined);
    child.stdin.end(m.input);
  }
});
`;

interface Pending {
  resolve: (r: SpawnResult) => void;
  request: SpawnRequest;
}

class SpawnHelper {
  private child: ChildProcess | null = null;
  private broken = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  start(): void {
    this.helper();
  }

  run(request: SpawnRequest): Promise<SpawnResult> {
    const child = this.helper();
    if (!child) return spawnDirectly(request);
    return new Promise((resolve) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, request });
      if (this.pending.size === 1) child.channel?.ref();
      child.send({ id, file: request.file, args: request.args, env: request.env, input: request.input, timeoutMs: request.timeoutMs }, (error) => {
        if (error) this.settle(id, null);
      });
    });
  }

  private helper(): ChildProcess | null {
    if (this.child || this.broken) return this.child;
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, ["-e", HELPER_SOURCE], { stdio: ["ignore", "ignore", "inherit", "ipc"], serialization: "advanced", env: {} });
    } catch {
      this.broken = true;
      return null;
    }
    child.on("message", (m: { id: number; code: number | null; stdout: Uint8Array; stderr: string; timedOut?: boolean }) => {
      const stdout = Buffer.from(m.stdout.buffer, m.stdout.byteOffset, m.stdout.byteLength);
      this.settle(m.id, { code: m.code, stdout, stderr: m.stderr, ...(m.timedOut ? { timedOut: true } : {}) });
    });
    const gone = () => {
      if (this.child !== child) return;
      this.child = null;
      this.broken = true;
      // Whatever it had not answered is started directly.
      for (const id of [...this.pending.keys()]) this.settle(id, null);
    };
    child.on("error", gone);
    child.on("exit", gone);
    child.on("disconnect", gone);
    child.unref();
    child.channel?.unref();
    this.child = child;
    return child;
  }

  /** Answers request `id`; with no result (the helper failed it), by starting the process directly. */
  private settle(id: number, result: SpawnResult | null): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (this.pending.size === 0) this.child?.channel?.unref();
    if (result) p.resolve(result);
    else void spawnDirectly(p.request).then(p.resolve);
  }
}

function spawnDirectly(request: SpawnRequest): Promise<SpawnResult> {
  return new Promise((resolve) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const reply = (r: SpawnResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(r);
    };
    // Its own process group, so a timeout kills what it started too (a fetch's remote helper).
    const child = spawn(request.file, request.args, { env: request.env, detached: true, stdio: [request.input === undefined ? "ignore" : "pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    if (request.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        if (child.pid !== undefined) {
          try {
            process.kill(-child.pid, "SIGKILL");
          } catch {
            // Already gone.
          }
        }
        reply({ code: null, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8"), timedOut: true });
      }, request.timeoutMs);
    }
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    child.on("error", (error) => reply({ code: null, stdout: Buffer.alloc(0), stderr: error.message }));
    child.on("close", (code) => reply({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString("utf8") }));
    if (child.stdin) {
      // The process may exit before reading all of it (e.g. git on a bad object); its exit code tells.
      child.stdin.on("error", () => undefined);
      child.stdin.end(request.input);
    }
  });
}

const shared = new SpawnHelper();

/** Runs a process to completion through the shared helper (started on first use). */
export function spawnViaHelper(request: SpawnRequest): Promise<SpawnResult> {
  return shared.run(request);
}

/** Starts the helper now, while this process is small and idle, rather than on the first git command. */
export function startSpawnHelper(): void {
  shared.start();
}
