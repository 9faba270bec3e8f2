/**
 * The run's files and the stages' artifacts over the agent's own connection
 * (SPEC 7): the agent never reads the server's directories nor talks to the
 * forge. Everything moves as a tar stream in chunks with backpressure both
 * ways, so a large artifact never sits in memory. Each call is allowed only
 * for an attempt currently leased to the calling agent.
 */
import { once } from "node:events";
import type { Readable } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import * as tar from "tar";
import type { AttemptRef } from "../engine/ports.js";
import { ArtifactTooLargeError, type ArtifactStore } from "./artifact-store.js";
import { pieces, type ArtifactUpload, type AttemptRefMessage, type DataChunk } from "./protocol.js";

/** What the server remembers of an assignment it sent, to serve its files. */
export interface AssignedAttempt {
  agentId: string;
  sourceDir: string;
  /** Stage ids whose artifacts this attempt may fetch. */
  artifactsFrom: ReadonlySet<string>;
}

/** What the handlers need of a call to identify its agent. */
export type CallIdentity = Pick<grpc.ServerUnaryCall<unknown, unknown>, "metadata" | "getAuthContext">;

export interface FileServiceContext {
  /** The agent behind the call (mTLS peer and session), or a gRPC error to end the call with. */
  authenticate(call: CallIdentity): Promise<{ id: string } | Refusal>;
  /** True if the attempt is leased to the agent now. */
  holds(agentId: string, ref: AttemptRef): boolean;
  assigned(ref: AttemptRef): Promise<AssignedAttempt | undefined>;
  artifacts: ArtifactStore;
  onError: (error: unknown, context: string) => void;
}

export type Refusal = Pick<grpc.StatusObject, "code" | "details">;

const refusal = (code: grpc.status, details: string): Refusal => ({ code, details });
const refOf = (m: AttemptRefMessage | null | undefined): AttemptRef | null =>
  m ? { runId: m.runId, stageId: m.stageId, attempt: m.attempt } : null;

async function permitted(ctx: FileServiceContext, call: CallIdentity, ref: AttemptRef | null): Promise<AssignedAttempt | Refusal> {
  const agent = await ctx.authenticate(call);
  if (!("id" in agent)) return agent;
  if (!ref) return refusal(grpc.status.INVALID_ARGUMENT, "the request names no attempt");
  const assigned = await ctx.assigned(ref);
  if (!assigned || assigned.agentId !== agent.id || !ctx.holds(agent.id, ref)) {
    return refusal(grpc.status.PERMISSION_DENIED, `attempt ${ref.stageId}#${ref.attempt} of run ${ref.runId} is not leased to this agent`);
  }
  return assigned;
}

async function sendStream(call: grpc.ServerWritableStream<unknown, DataChunk>, source: Readable): Promise<void> {
  for await (const chunk of source) {
    for (const piece of pieces(chunk as Buffer)) {
      if (call.cancelled) {
        source.destroy();
        return;
      }
      if (!call.write({ data: piece })) await once(call, "drain");
    }
  }
  call.end();
}

/** Ends a server stream with the refusal as its status (grpc-js sends an emitted error as the status). */
export function fail(call: { emit(event: "error", e: Error): boolean }, r: Refusal): void {
  call.emit("error", Object.assign(new Error(r.details), r));
}

export function fileServiceHandlers(ctx: FileServiceContext) {
  return {
    fetchSource: (call: grpc.ServerWritableStream<{ ref: AttemptRefMessage }, DataChunk>): void => {
      void (async () => {
        const p = await permitted(ctx, call, refOf(call.request.ref));
        if (!("sourceDir" in p)) return fail(call, p);
        await sendStream(call, tar.c({ cwd: p.sourceDir, portable: true }, ["."]) as unknown as Readable);
      })().catch((error: unknown) => {
        ctx.onError(error, "sending a run's files");
        fail(call, refusal(grpc.status.INTERNAL, `could not send the run's files: ${(error as Error).message}`));
      });
    },

    fetchArtifact: (call: grpc.ServerWritableStream<{ ref: AttemptRefMessage; fromStageId: string }, DataChunk>): void => {
      void (async () => {
        const ref = refOf(call.request.ref);
        const p = await permitted(ctx, call, ref);
        if (!("sourceDir" in p)) return fail(call, p);
        const from = call.request.fromStageId;
        if (!ref || !p.artifactsFrom.has(from)) {
          return fail(call, refusal(grpc.status.PERMISSION_DENIED, `this stage does not need ${JSON.stringify(from)}`));
        }
        await sendStream(call, ctx.artifacts.read(ref.runId, from));
      })().catch((error: unknown) => {
        ctx.onError(error, "sending an artifact");
        fail(call, refusal(grpc.status.INTERNAL, `could not send the artifact: ${(error as Error).message}`));
      });
    },

    uploadArtifact: (call: grpc.ServerReadableStream<ArtifactUpload, { bytes: number }>, callback: grpc.sendUnaryData<{ bytes: number }>): void => {
      void receiveArtifact(ctx, call).then(
        (bytes) => callback(null, { bytes }),
        (error: unknown) => {
          if (error instanceof ArtifactTooLargeError) return callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: error.message });
          if (error instanceof UploadRefusedError) return callback(error.refusal);
          ctx.onError(error, "receiving an artifact");
          callback({ code: grpc.status.INTERNAL, details: `could not store the artifact: ${(error as Error).message}` });
        },
      );
    },
  };
}

class UploadRefusedError extends Error {
  readonly retryable = false;
  constructor(readonly refusal: Refusal) {
    super(refusal.details);
    this.name = "UploadRefusedError";
  }
}

async function receiveArtifact(ctx: FileServiceContext, call: grpc.ServerReadableStream<ArtifactUpload, { bytes: number }>): Promise<number> {
  let upload: Awaited<ReturnType<ArtifactStore["create"]>> | null = null;
  let bytes = 0;
  try {
    for await (const message of call as AsyncIterable<ArtifactUpload>) {
      if (!upload) {
        const ref = refOf(message.ref);
        const p = await permitted(ctx, call, ref);
        if (!("sourceDir" in p)) throw new UploadRefusedError(p);
        upload = await ctx.artifacts.create(ref!.runId, ref!.stageId);
        continue;
      }
      const data = message.data ?? Buffer.alloc(0);
      bytes += data.length;
      if (bytes > ctx.artifacts.maxBytes) throw new ArtifactTooLargeError(ctx.artifacts.maxBytes);
      if (!upload.out.write(data)) await once(upload.out, "drain");
    }
    if (!upload) throw new UploadRefusedError(refusal(grpc.status.INVALID_ARGUMENT, "the upload named no attempt"));
    await upload.commit();
    return bytes;
  } catch (error) {
    await upload?.abort();
    throw error;
  }
}
