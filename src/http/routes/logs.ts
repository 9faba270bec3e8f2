/**
 * `GET /api/runs/:id/stages/:stage/logs`: the stage's log as text, or with
 * `?follow=1` as server-sent events until the stage ends. Live chunks come
 * from the engine; what was stored before comes from the store. The engine
 * subscription starts before the store is read, so nothing falls in between,
 * and chunks are de-duplicated by their sequence number.
 *
 * Events: `log` `{attempt, seq, data}`, `attempt` `{attempt}` when a retry or
 * re-run starts a new attempt, `end` `{status, conclusion, attempt}`.
 */
import type { FastifyInstance } from "fastify";
import type { LogChunk } from "../../engine/ports.js";
import { accessPolicyFor } from "../../access/access-policy.js";
import { getRun, readStageLog } from "../../store/run-queries.js";
import { badRequest, notFound } from "../errors.js";
import type { HttpAppOptions } from "../options.js";
import { openSse, wantsFollow, type SseStream } from "../sse.js";

interface LogRoute {
  Params: { id: string; stage: string };
  Querystring: { follow?: string; attempt?: string };
}

export function registerLogRoutes(app: FastifyInstance, options: HttpAppOptions): void {
  const { db } = options;
  const policy = accessPolicyFor(options);

  app.get<LogRoute>("/api/runs/:id/stages/:stage/logs", async (request, reply) => {
    const { id, stage } = request.params;
    await policy.readableRun(request, reply, id);
    const attempt = request.query.attempt === undefined ? undefined : Number(request.query.attempt);
    if (attempt !== undefined && (!Number.isInteger(attempt) || attempt < 1)) throw badRequest("attempt must be a positive integer");
    const run = await getRun(db, id);
    if (!run) throw notFound(`no run ${id}`);
    if (!run.stages?.some((s) => s.id === stage)) throw notFound(`run ${id} has no stage ${stage}`);

    if (!wantsFollow(request.query.follow)) {
      const log = await readStageLog(db, { runId: id, stageId: stage, attempt });
      return reply
        .type("text/plain; charset=utf-8")
        .header("x-hodei-attempt", String(log.attempt))
        .send(log.chunks.map((c) => c.data).join(""));
    }
    await followLog(openSse(reply, options.heartbeatMs ?? 15_000), options, { runId: id, stageId: stage });
  });
}

async function followLog(sse: SseStream, options: HttpAppOptions, ref: { runId: string; stageId: string }): Promise<void> {
  const { db } = options;
  let attempt = 0;
  let lastSeq = 0;
  let caughtUp = false;
  let ended = false;
  const pending: { attempt: number; chunks: readonly LogChunk[] }[] = [];

  const sendChunks = (a: number, chunks: readonly LogChunk[]) => {
    if (a !== attempt) return;
    for (const c of chunks) {
      if (c.seq <= lastSeq) continue;
      lastSeq = c.seq;
      sse.send("log", { attempt: a, seq: c.seq, data: c.data });
    }
  };
  const catchUp = async () => {
    const stored = await readStageLog(db, { ...ref, attempt });
    sendChunks(attempt, stored.chunks);
  };
  const finish = async () => {
    if (ended) return;
    ended = true;
    await catchUp(); // stragglers stored after the last live batch
    const stage = (await getRun(db, ref.runId))?.stages?.find((s) => s.id === ref.stageId);
    sse.send("end", { attempt, status: stage?.status ?? null, conclusion: stage?.conclusion ?? null });
    sse.end();
  };
  const fail = (error: unknown) => {
    sse.send("error", { error: error instanceof Error ? error.message : String(error) });
    sse.end();
  };

  const unsubscribe = options.engine?.subscribe({
    onLogs(chunkRef, chunks) {
      if (chunkRef.runId !== ref.runId || chunkRef.stageId !== ref.stageId) return;
      if (caughtUp) sendChunks(chunkRef.attempt, chunks);
      else pending.push({ attempt: chunkRef.attempt, chunks });
    },
    onEvents(state, events) {
      if (state.id !== ref.runId || !caughtUp || ended) return;
      for (const e of events) {
        if (e.type === "stage.queued" && e.data.stageId === ref.stageId && e.data.attempt !== attempt) {
          attempt = e.data.attempt;
          lastSeq = 0;
          sse.send("attempt", { attempt });
        } else if (e.type === "stage.completed" && e.data.stageId === ref.stageId) {
          finish().catch(fail);
        }
      }
    },
  });
  sse.onClose(() => unsubscribe?.());

  try {
    const stage = (await getRun(db, ref.runId))?.stages?.find((s) => s.id === ref.stageId);
    attempt = Math.max(1, stage?.attempt ?? 1);
    sse.send("attempt", { attempt });
    await catchUp();
    caughtUp = true;
    for (const p of pending.splice(0)) sendChunks(p.attempt, p.chunks);
    // Completed already, or no engine to tell us when it will be.
    if (stage?.status === "completed" || !options.engine) await finish();
  } catch (error) {
    fail(error);
  }
}
