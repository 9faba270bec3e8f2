/**
 * Whether the store can be written to, for `/healthz` (issue 16): a store
 * that answers reads but refuses every write (a full disk, a read-only or
 * standby Postgres) holds every run, so a load balancer must see it as down.
 *
 * One probe is two cheap checks, each bounded by `timeoutMs`:
 * - an UPDATE that matches no row: Postgres checks that its transaction
 *   may write before it looks for rows, so a read-only or
 *   standby server refuses it, and a server that is down does not answer;
 *   nothing is written, so probing leaves no dead rows behind;
 * - for the embedded store, a small new file in its data directory, removed
 *   again: on a full disk its first block cannot be allocated (PGlite's own
 *   writes then fail with "could not extend file").
 *
 * A store the engine's own writes are failing on is unhealthy too, whatever
 * the probe says (a full disk on the Postgres server leaves its empty UPDATE
 * alone).
 *
 * The answer is kept for `cacheMs`, and callers in the meantime share the
 * probe in flight, so frequent health checks cost one probe a second.
 */
import { randomUUID } from "node:crypto";
import { open, unlink } from "node:fs/promises";
import path from "node:path";
import { withClockTimeout } from "../engine/clock-timeout.js";
import type { Clock } from "../engine/ports.js";
import type { Database } from "./database.js";
import { storeUnavailableReason } from "./store-unavailable.js";

export type WriteProbeResult = { ok: true } | { ok: false; reason: string };

export interface WriteProbeOptions {
  db: Database;
  clock: Clock;
  /** The embedded store's data directory (HODEI_DATA_DIR); unset for Postgres. */
  dataDir?: string;
  /** Why the engine's own writes are failing right now (Engine.storeOutage), if they are. */
  outage?: () => string | null;
  timeoutMs?: number;
  cacheMs?: number;
}

/** A table every migrated store has (migrate.ts creates it). */
const PROBE_SQL = "UPDATE hodei_migrations SET name = name WHERE false";
/** One block of most file systems: enough that a full disk refuses it. */
const PROBE_BYTES = 4096;

class ProbeTimeout extends Error {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`${what} did not answer within ${timeoutMs} ms`);
    this.name = "ProbeTimeout";
  }
}

export class StoreWriteProbe {
  private last: { at: number; result: WriteProbeResult } | null = null;
  private inFlight: Promise<WriteProbeResult> | null = null;

  constructor(private readonly options: WriteProbeOptions) {}

  check(): Promise<WriteProbeResult> {
    const now = this.options.clock.now().getTime();
    if (this.last && now - this.last.at < (this.options.cacheMs ?? 1000)) return Promise.resolve(this.last.result);
    this.inFlight ??= this.probe().then((result) => {
      this.last = { at: this.options.clock.now().getTime(), result };
      this.inFlight = null;
      return result;
    });
    return this.inFlight;
  }

  private async probe(): Promise<WriteProbeResult> {
    const { dataDir } = this.options;
    const outage = this.options.outage?.();
    if (outage) return { ok: false, reason: outage === "disk full" && dataDir ? `no space left on device in ${dataDir}` : `the store refuses the engine's writes (${outage})` };
    if (dataDir) {
      try {
        await this.bounded("the data directory", writeProbeFile(dataDir));
      } catch (error) {
        return { ok: false, reason: fileFailure(error, dataDir) };
      }
    }
    try {
      // Urgent: on Postgres a pool of its own, so busy background work does not make it time out.
      await this.bounded("the store", this.options.db.queryUrgent(PROBE_SQL));
    } catch (error) {
      return { ok: false, reason: storeFailure(error) };
    }
    return { ok: true };
  }

  private bounded<T>(what: string, work: Promise<T>): Promise<T> {
    const timeoutMs = this.options.timeoutMs ?? 2000;
    // The work goes on if it times out; its late failure must not be unhandled.
    work.catch(() => undefined);
    return withClockTimeout(work, timeoutMs, (fn, ms) => this.options.clock.setTimer(fn, ms), () => new ProbeTimeout(what, timeoutMs));
  }
}

async function writeProbeFile(dataDir: string): Promise<void> {
  // A new file each time: rewriting one would reuse its own blocks and succeed on a full disk.
  const file = path.join(dataDir, `.write-probe-${randomUUID()}`);
  try {
    const handle = await open(file, "wx");
    try {
      await handle.write(Buffer.alloc(PROBE_BYTES, 0x2e));
    } finally {
      await handle.close();
    }
  } finally {
    await unlink(file).catch(() => undefined);
  }
}

function fileFailure(error: unknown, dataDir: string): string {
  if (error instanceof ProbeTimeout) return error.message;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") return `no space left on device in ${dataDir}`;
  if (code === "EROFS") return `the data directory ${dataDir} is on a read-only file system`;
  return `cannot write to the data directory ${dataDir}: ${(error as Error).message}`;
}

function storeFailure(error: unknown): string {
  if (error instanceof ProbeTimeout) return error.message;
  const reason = storeUnavailableReason(error);
  const message = (error as Error).message;
  if (reason === "disk full") return `the store has no space left: ${message}`;
  if (reason) return `the store is unavailable (${reason})`;
  return `the store refuses writes: ${message}`;
}
