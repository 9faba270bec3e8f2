/**
 * The agent's side of the file calls: the run's files and the artifacts of
 * needed stages come from the server as tar streams and are unpacked into
 * the workspace; the stage's own artifacts go up the same way. Streams end
 * to end with backpressure, so nothing is held whole in memory.
 */
import { once } from "node:events";
import type { Readable } from "node:stream";
import type * as grpc from "@grpc/grpc-js";
import * as tar from "tar";
import { pieces, type AgentServiceClient, type AttemptRefMessage, type DataChunk } from "../grpc/protocol.js";

/** Turns a stream of DataChunk messages into a stream of bytes. */
async function* bytesOf(stream: grpc.ClientReadableStream<DataChunk>): AsyncGenerator<Buffer> {
  for await (const message of stream as AsyncIterable<DataChunk>) yield message.data;
}

async function unpack(stream: grpc.ClientReadableStream<DataChunk>, into: string): Promise<void> {
  // tar refuses absolute paths and `..` unless told otherwise.
  const unpacker = tar.x({ cwd: into, strict: true });
  // Listen before the first write: tar's Unpack is not a Node stream, and
  // stream.pipeline could miss a `finish` it emits while the last chunk is
  // written, leaving the fetch (and the stage) hanging forever.
  const finished = new Promise<void>((resolve, reject) => {
    unpacker.once("finish", () => resolve());
    unpacker.once("close", () => resolve());
    unpacker.once("error", reject);
    stream.once("error", reject);
  });
  // The loop below may throw first (the server went away mid-stream); the
  // same error then rejects `finished` too, and with nobody awaiting it that
  // rejection would kill the agent and every attempt it runs.
  finished.catch(() => undefined);
  for await (const data of bytesOf(stream)) {
    if (!unpacker.write(data)) await Promise.race([once(unpacker, "drain"), finished]);
  }
  unpacker.end();
  await finished;
}

export function fetchSource(client: AgentServiceClient, metadata: grpc.Metadata, ref: AttemptRefMessage, into: string): Promise<void> {
  return unpack(client.fetchSource({ ref }, metadata), into);
}

export function fetchArtifact(
  client: AgentServiceClient,
  metadata: grpc.Metadata,
  ref: AttemptRefMessage,
  fromStageId: string,
  into: string,
): Promise<void> {
  return unpack(client.fetchArtifact({ ref, fromStageId }, metadata), into);
}

/** Packs `paths` (relative to `root`) and uploads them as the attempt's artifact; resolves with the byte count. */
export async function uploadArtifact(
  client: AgentServiceClient,
  metadata: grpc.Metadata,
  ref: AttemptRefMessage,
  root: string,
  paths: readonly string[],
): Promise<number> {
  let settle!: { resolve: (n: number) => void; reject: (e: Error) => void };
  const done = new Promise<number>((resolve, reject) => (settle = { resolve, reject }));
  const call = client.uploadArtifact(metadata, (error, response) => (error ? settle.reject(error) : settle.resolve(response?.bytes ?? 0)));
  // Packing may fail before the call's answer is awaited: never an unhandled rejection.
  done.catch(() => undefined);
  try {
    call.write({ ref });
    const packed = tar.c({ cwd: root, portable: true }, [...paths]) as unknown as Readable;
    for await (const chunk of packed) {
      for (const piece of pieces(chunk as Buffer)) {
        if (!call.write({ data: piece })) await Promise.race([once(call, "drain"), done]);
      }
    }
    call.end();
  } catch (error) {
    call.cancel();
    throw error;
  }
  return done;
}
