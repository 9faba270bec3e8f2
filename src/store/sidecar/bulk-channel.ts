/**
 * Large query parameters (a batch of log text, bytes) travel from the server
 * to its store process over a pipe of their own, as raw bytes, instead of
 * through the IPC channel.
 *
 * Node's IPC with `serialization: "advanced"` copies every message into a
 * v8.Serializer buffer and again into a length-prefixed one; both live
 * outside the V8 heap until a collection finds them, so a flood of 256 KiB
 * log batches raised the server's peak RSS by tens of MB. A string written to
 * a pipe is encoded once into memory that is freed when the write completes.
 * (Measured from a bare Node process sending 600 strings of 264 KiB, each
 * acknowledged before the next: peak RSS +182 MB over IPC, +8 MB as frames.)
 *
 * A frame is a 4-byte big-endian length and the bytes. The request names the
 * parameters it moved (`BulkParam`) and leaves null in their place; frames
 * are written in the order of the requests, and the store process claims them
 * in the order the requests arrive, so neither side needs ids.
 */
import type { Readable, Writable } from "node:stream";
import type { BulkParam } from "./protocol.js";

/** Parameters at least this long (in UTF-16 units or bytes) go over the bulk pipe. */
export const BULK_THRESHOLD = 16 * 1024;

export class BulkFrameError extends Error {
  constructor(
    message: string,
    readonly pending: number,
  ) {
    super(message);
    this.name = "BulkFrameError";
  }
}

/**
 * The server's side: moves large parameters of a request onto the pipe and
 * returns the request's parameters with null in their place.
 */
export function sendBulk(
  out: Writable,
  params: readonly unknown[] | undefined,
): { params: readonly unknown[] | undefined; bulk: BulkParam[] | undefined } {
  if (!params) return { params, bulk: undefined };
  let bulk: BulkParam[] | undefined;
  let rest: unknown[] | undefined;
  params.forEach((value, index) => {
    const kind = typeof value === "string" ? "text" : value instanceof Uint8Array ? "bytes" : null;
    if (kind === null || (value as string | Uint8Array).length < BULK_THRESHOLD) return;
    (bulk ??= []).push({ index, kind });
    (rest ??= [...params])[index] = null;
    const header = Buffer.allocUnsafe(4);
    if (typeof value === "string") {
      header.writeUInt32BE(Buffer.byteLength(value, "utf8"));
      out.write(header);
      out.write(value, "utf8");
    } else {
      header.writeUInt32BE((value as Uint8Array).byteLength);
      out.write(header);
      out.write(value);
    }
  });
  return { params: rest ?? params, bulk };
}

/**
 * The store process's side: reads frames as they arrive and hands them out in
 * order to the requests that claim them.
 */
export class BulkReader {
  /** Frames no request has claimed yet. */
  private readonly frames: Buffer[] = [];
  /** Requests waiting for frames not yet arrived, in claim order. */
  private readonly claims: { resolve(frame: Buffer): void; reject(err: Error): void }[] = [];
  private chunks: Buffer[] = [];
  private buffered = 0;
  private failure: BulkFrameError | undefined;

  constructor(input: Readable) {
    input.on("data", (chunk: Buffer) => this.receive(chunk));
    input.on("end", () => this.fail("the bulk pipe closed"));
    input.on("error", (err) => this.fail(`the bulk pipe failed: ${err.message}`));
  }

  /**
   * The request's parameters with its bulk ones filled in. Call it as the
   * request arrives (it claims the next frames at once), await it when the
   * parameters are needed.
   */
  resolve(params: readonly unknown[] | undefined, bulk: readonly BulkParam[] | undefined): Promise<readonly unknown[] | undefined> {
    if (!bulk || bulk.length === 0 || !params) return Promise.resolve(params);
    const frames = bulk.map(() => this.claim());
    return Promise.all(frames).then((bodies) => {
      const out = [...params];
      bulk.forEach((b, i) => {
        const body = bodies[i]!;
        out[b.index] = b.kind === "text" ? body.toString("utf8") : body;
      });
      return out;
    });
  }

  private claim(): Promise<Buffer> {
    const ready = this.frames.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.claims.push({ resolve, reject }));
  }

  private receive(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.buffered < 4) return;
      const head = this.chunks[0]!.length >= 4 ? this.chunks[0]! : this.flatten();
      const length = head.readUInt32BE(0);
      if (this.buffered < 4 + length) return;
      const all = this.flatten();
      const rest = all.subarray(4 + length);
      // A subarray of a buffer that holds more would keep the rest alive with it: copy then.
      const frame = rest.length === 0 ? all.subarray(4) : Buffer.from(all.subarray(4, 4 + length));
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
      this.deliver(frame);
    }
  }

  private flatten(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0]!;
  }

  private deliver(frame: Buffer): void {
    const claim = this.claims.shift();
    if (claim) claim.resolve(frame);
    else this.frames.push(frame);
  }

  private fail(message: string): void {
    this.failure ??= new BulkFrameError(message, this.claims.length);
    for (const claim of this.claims.splice(0)) claim.reject(this.failure);
  }
}
