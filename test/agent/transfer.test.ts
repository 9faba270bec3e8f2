/**
 * The agent's file calls when the server goes away mid-transfer (a SIGKILL of
 * the server during a fetch): the call fails with the stream's error, which
 * runAttempt retries, and no rejection is left unhandled. An unhandled one
 * killed the agent under Node's default and every attempt it ran was then
 * recorded "agent lost" (issue 16, the restart test).
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as tar from "tar";
import { afterEach, beforeEach, expect, it } from "vitest";
import { agentServiceClient, agentServiceDefinition, protocolMetadata, type AgentServiceClient, type DataChunk } from "../../src/grpc/protocol.js";
import { fetchSource, uploadArtifact } from "../../src/agent/transfer.js";

const ref = { runId: "r1", stageId: "s", attempt: 1, agentId: "a" };

let server: grpc.Server;
let client: AgentServiceClient;
let unhandled: unknown[];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

/** A tar of one file, big enough to span several chunks. */
async function packed(): Promise<Buffer> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "hodei-transfer-"));
  await writeFile(path.join(dir, "big.txt"), "y".repeat(300_000));
  const chunks: Buffer[] = [];
  for await (const c of tar.c({ cwd: dir, portable: true }, ["big.txt"]) as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

async function serve(handlers: Partial<grpc.UntypedServiceImplementation>): Promise<void> {
  server = new grpc.Server();
  const unimplemented = (_: unknown, callback?: grpc.sendUnaryData<unknown>) =>
    callback?.({ code: grpc.status.UNIMPLEMENTED, details: "no" }, null);
  server.addService(agentServiceDefinition(), {
    register: unimplemented,
    connect: (call: grpc.ServerDuplexStream<unknown, unknown>) => call.end(),
    fetchSource: unimplemented,
    fetchArtifact: unimplemented,
    uploadArtifact: unimplemented,
    ...handlers,
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  client = agentServiceClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
}

beforeEach(() => {
  unhandled = [];
  process.on("unhandledRejection", onUnhandled);
});
afterEach(() => {
  process.off("unhandledRejection", onUnhandled);
  client?.close();
  server?.forceShutdown();
});

/** Lets any stray rejection surface before the test looks. */
const settle = () => new Promise((r) => setTimeout(r, 100));

it.each([
  ["stream fails half-way", (call: grpc.ServerWritableStream<unknown, DataChunk>) => call.emit("error", { code: grpc.status.UNAVAILABLE, details: "server going away" })],
  ["server shuts down mid-stream", () => server.forceShutdown()],
] as const)("a fetch whose %s rejects with the stream's error, and nothing is left unhandled", async (_, breakOff) => {
  const tarball = await packed();
  await serve({
    fetchSource: (call: grpc.ServerWritableStream<unknown, DataChunk>) => {
      call.write({ data: tarball.subarray(0, 64 * 1024) });
      setTimeout(() => breakOff(call), 20);
    },
  });
  const into = await mkdtemp(path.join(os.tmpdir(), "hodei-into-"));
  const error = await fetchSource(client, protocolMetadata(), ref, into).then(
    () => null,
    (e: unknown) => e as grpc.ServiceError,
  );
  expect(error).toBeInstanceOf(Error);
  expect([grpc.status.UNAVAILABLE, grpc.status.CANCELLED, grpc.status.INTERNAL]).toContain(error?.code);
  await settle();
  expect(unhandled).toEqual([]);
});

it("a whole fetch unpacks the files", async () => {
  const tarball = await packed();
  await serve({
    fetchSource: (call: grpc.ServerWritableStream<unknown, DataChunk>) => {
      for (let at = 0; at < tarball.length; at += 64 * 1024) call.write({ data: tarball.subarray(at, at + 64 * 1024) });
      call.end();
    },
  });
  const into = await mkdtemp(path.join(os.tmpdir(), "hodei-into-"));
  await fetchSource(client, protocolMetadata(), ref, into);
  expect(await readFile(path.join(into, "big.txt"), "utf8")).toBe("y".repeat(300_000));
});

it("an upload the server refuses rejects with its error, and packing a missing path leaves nothing unhandled", async () => {
  await serve({
    uploadArtifact: (call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      call.once("data", () => callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: "no space left" }, null));
      call.on("data", () => undefined);
    },
  });
  const root = await mkdtemp(path.join(os.tmpdir(), "hodei-root-"));
  await writeFile(path.join(root, "out.txt"), "z".repeat(200_000));
  const refused = await uploadArtifact(client, protocolMetadata(), ref, root, ["out.txt"]).then(
    () => null,
    (e: unknown) => e as grpc.ServiceError,
  );
  expect(refused?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);

  const missing = await uploadArtifact(client, protocolMetadata(), ref, root, ["not-there.txt"]).then(
    () => null,
    (e: unknown) => e as Error,
  );
  expect(missing).toBeInstanceOf(Error);
  await settle();
  expect(unhandled).toEqual([]);
});
