/**
 * A Postgres cluster of the test's own, on a port of its own, that the test
 * may stop and start (the machine's shared cluster on 5432 must never be).
 * initdb runs once per cluster as the `postgres` user (Postgres refuses to
 * run as root); the cluster lives in a temporary directory removed by
 * `destroy`. With CI set and the binaries missing, `privatePostgresAvailable`
 * is false and the suites that need it fail instead of skipping.
 */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);
const BIN = process.env.HODEI_TEST_PG_BIN ?? "/usr/lib/postgresql/15/bin";

export const privatePostgresAvailable = existsSync(path.join(BIN, "initdb")) && process.getuid?.() === 0;

export class PrivatePostgres {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  /** postgres://…/test on this cluster (trust auth on 127.0.0.1 only). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/test`;
  }

  static async create(port: number): Promise<PrivatePostgres> {
    const dir = await mkdtemp(path.join(os.tmpdir(), "hodei-private-pg-"));
    await chmod(dir, 0o777);
    const cluster = new PrivatePostgres(dir, port);
    await asPostgres(path.join(BIN, "initdb"), ["-D", cluster.data, "-A", "trust", "-U", "postgres", "--no-sync"]);
    await cluster.start();
    const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/postgres` });
    await client.connect();
    await client.query("create database test");
    await client.end();
    return cluster;
  }

  private get data(): string {
    return path.join(this.dir, "data");
  }

  async start(): Promise<void> {
    await asPostgres(path.join(BIN, "pg_ctl"), [
      "-D", this.data, "-w", "-t", "60", "-l", path.join(this.dir, "log"),
      "-o", `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      "start",
    ]);
  }

  /** Stops the cluster at once (fast shutdown: clients are disconnected). */
  async stop(): Promise<void> {
    await asPostgres(path.join(BIN, "pg_ctl"), ["-D", this.data, "-w", "-m", "fast", "stop"]);
  }

  async destroy(): Promise<void> {
    await this.stop().catch(() => undefined);
    await rm(this.dir, { recursive: true, force: true });
  }
}

function asPostgres(bin: string, args: string[]): Promise<unknown> {
  return run("runuser", ["-u", "postgres", "--", bin, ...args], { timeout: 120_000 });
}
