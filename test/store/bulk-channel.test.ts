import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { BULK_THRESHOLD, BulkFrameError, BulkReader, sendBulk } from "../../src/store/sidecar/bulk-channel.js";

/** Writes what the server side wrote to the reader's stream in pieces of `size` bytes, as a pipe may deliver it. */
function pipeInPieces(size: number) {
  const written: Buffer[] = [];
  const out = new PassThrough();
  out.on("data", (b: Buffer) => written.push(b));
  const input = new PassThrough();
  const flush = () => {
    const all = Buffer.concat(written.splice(0));
    for (let at = 0; at < all.length; at += size) input.write(all.subarray(at, at + size));
  };
  return { out, input, flush };
}

describe("the bulk pipe to the store process", () => {
  it("leaves small parameters in the request and moves large ones, with null in their place", () => {
    const { out } = pipeInPieces(1);
    const big = "x".repeat(BULK_THRESHOLD);
    const bytes = new Uint8Array(BULK_THRESHOLD);
    const moved = sendBulk(out, ["a", 1, big, null, bytes, "y".repeat(BULK_THRESHOLD - 1)]);
    expect(moved.bulk).toEqual([
      { index: 2, kind: "text" },
      { index: 4, kind: "bytes" },
    ]);
    expect(moved.params).toEqual(["a", 1, null, null, null, "y".repeat(BULK_THRESHOLD - 1)]);
    const none = ["a", 2];
    expect(sendBulk(out, none)).toEqual({ params: none, bulk: undefined });
  });

  it("hands frames to requests in the order they claimed them, whatever pieces the pipe delivers", async () => {
    for (const piece of [1, 3, 4, 5, 65_536]) {
      const { out, input, flush } = pipeInPieces(piece);
      const reader = new BulkReader(input);
      const requests = Array.from({ length: 5 }, (_, n) => [n, "é".repeat(BULK_THRESHOLD + n), Buffer.alloc(BULK_THRESHOLD, n)]);
      const sent = requests.map((params) => sendBulk(out, params));
      // Claimed before any byte arrived for the first three, after for the rest.
      const resolved = sent.slice(0, 3).map((s) => reader.resolve(s.params, s.bulk));
      flush();
      await new Promise((r) => setImmediate(r));
      resolved.push(...sent.slice(3).map((s) => reader.resolve(s.params, s.bulk)));
      const got = await Promise.all(resolved);
      got.forEach((params, n) => {
        expect(params?.[0]).toBe(n);
        expect(params?.[1]).toBe("é".repeat(BULK_THRESHOLD + n));
        expect(Buffer.isBuffer(params?.[2]) && params[2].equals(Buffer.alloc(BULK_THRESHOLD, n))).toBe(true);
      });
    }
  });

  it("fails the requests still waiting for frames when the pipe ends", async () => {
    const { out, input } = pipeInPieces(1);
    const reader = new BulkReader(input);
    const sent = sendBulk(out, ["z".repeat(BULK_THRESHOLD)]);
    const waiting = reader.resolve(sent.params, sent.bulk);
    input.end();
    await expect(waiting).rejects.toBeInstanceOf(BulkFrameError);
    await expect(reader.resolve(sent.params, sent.bulk)).rejects.toThrow(/bulk pipe closed/);
  });
});
