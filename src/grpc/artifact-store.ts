/**
 * Where stages' artifacts live on the server: one tar file per stage
 * instance under HODEI_DATA_DIR/artifacts/<run>/<stage>.tar, written to a
 * temporary name and renamed, so a reader never sees half an upload.
 */
import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Readable, Writable } from "node:stream";

export class ArtifactTooLargeError extends Error {
  readonly retryable = false;
  constructor(readonly limitBytes: number) {
    super(`artifact exceeds the limit of ${limitBytes} bytes`);
    this.name = "ArtifactTooLargeError";
  }
}

export class ArtifactStore {
  constructor(
    readonly dir: string,
    /** Per stage instance; uploads beyond it are refused. */
    readonly maxBytes = 2 * 1024 ** 3,
  ) {}

  file(runId: string, stageId: string): string {
    return path.join(this.dir, encodeURIComponent(runId), `${encodeURIComponent(stageId)}.tar`);
  }

  async exists(runId: string, stageId: string): Promise<boolean> {
    try {
      return (await stat(this.file(runId, stageId))).isFile();
    } catch {
      return false;
    }
  }

  read(runId: string, stageId: string): Readable {
    return createReadStream(this.file(runId, stageId), { highWaterMark: 64 * 1024 });
  }

  /** A writable for a new upload; `commit` makes it the stage's artifact, `abort` throws it away. */
  async create(runId: string, stageId: string): Promise<{ out: Writable; commit(): Promise<void>; abort(): Promise<void> }> {
    const final = this.file(runId, stageId);
    await mkdir(path.dirname(final), { recursive: true });
    const part = `${final}.${randomUUID()}.part`;
    const out = createWriteStream(part, { mode: 0o600 });
    const closed = new Promise<void>((resolve, reject) => {
      out.once("close", resolve);
      out.once("error", reject);
    });
    // A write error (a full disk) before commit or abort is awaited must not
    // become an unhandled rejection that takes the server down.
    closed.catch(() => undefined);
    return {
      out,
      commit: async () => {
        out.end();
        await closed;
        await rename(part, final);
      },
      abort: async () => {
        out.destroy();
        await closed.catch(() => undefined);
        await rm(part, { force: true });
      },
    };
  }
}
