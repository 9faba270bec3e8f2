/** The write side on runs (SPEC 3): re-run (all, failed, one stage) and cancel; bearer token, 202. */
import type { FastifyInstance } from "fastify";
import { RunNotFoundError } from "../../engine/engine.js";
import { RerunRefusedError } from "../../saga/rerun.js";
import { getRun } from "../../store/run-queries.js";
import { adminAuth } from "../auth.js";
import { HttpError, conflict, notFound, unavailable } from "../errors.js";
import type { HttpAppOptions, HttpEngine } from "../options.js";
import { wantsFollow } from "../sse.js";

export function registerActionRoutes(app: FastifyInstance, options: HttpAppOptions): void {
  const { db } = options;
  const auth = adminAuth(options.adminToken);
  const engineOrFail = (): HttpEngine => {
    if (!options.engine) throw unavailable("this server has no engine: runs cannot be changed");
    return options.engine;
  };

  app.post<{ Params: { id: string }; Querystring: { failed?: string } }>(
    "/api/runs/:id/rerun",
    { onRequest: auth },
    async (request, reply) => {
      const engine = engineOrFail();
      const runId = request.params.id;
      let stages: string[];
      if (wantsFollow(request.query.failed)) {
        stages = await rerun(() => engine.rerun(runId, { failed: true }, "re-run of failed stages requested through the API"));
      } else {
        const run = await getRun(db, runId);
        if (!run) throw notFound(`no run ${runId}`);
        const all = (run.stages ?? []).map((s) => s.id);
        stages = await rerun(() => engine.rerun(runId, { stages: all }, "re-run requested through the API"));
      }
      return reply.status(202).send({ id: runId, stages });
    },
  );

  app.post<{ Params: { id: string; stage: string } }>("/api/runs/:id/stages/:stage/rerun", { onRequest: auth }, async (request, reply) => {
    const engine = engineOrFail();
    const { id, stage } = request.params;
    const stages = await rerun(() => engine.rerun(id, { stages: [stage] }, `re-run of ${stage} requested through the API`));
    return reply.status(202).send({ id, stages });
  });

  app.post<{ Params: { id: string } }>("/api/runs/:id/cancel", { onRequest: auth }, async (request, reply) => {
    const engine = engineOrFail();
    const runId = request.params.id;
    const run = await getRun(db, runId);
    if (!run) throw notFound(`no run ${runId}`);
    if (run.status === "completed") throw conflict(`run ${runId} has already completed (${run.conclusion ?? "no conclusion"})`);
    if (!(await engine.cancelRun(runId, "cancelled through the API"))) throw notFound(`no run ${runId}`);
    return reply.status(202).send({ id: runId });
  });
}

/** Maps the engine's refusals to status codes: unknown things 404, wrong moment 409. */
async function rerun(call: () => Promise<string[]>): Promise<string[]> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof RunNotFoundError) throw notFound(error.message);
    if (error instanceof RerunRefusedError) {
      throw new HttpError(error.refusal === "unknown_stage" ? 404 : 409, error.message);
    }
    throw error;
  }
}
