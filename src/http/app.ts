/**
 * The HTTP face of the control plane (SPEC 3): health, the read API and the
 * webhook endpoints. Fastify handles routing and content types; the handlers
 * only translate between HTTP and the store or engine.
 */
import Fastify, { type FastifyInstance } from "fastify";
import type { Database } from "../store/database.js";
import { getRun, listRuns, readStageLog } from "../store/run-queries.js";

export interface HttpAppOptions {
  db: Database;
  webhookSecrets: { github?: string; gitea?: string };
}

export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 25 * 1024 * 1024 });
  const { db } = options;

  app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    void reply.status(status).send({ error: status === 500 ? "internal error" : error.message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: `no route ${request.method} ${request.url}` });
  });

  app.get("/healthz", async (_request, reply) => {
    try {
      await db.query("select 1");
      return { status: "ok" };
    } catch {
      return reply.status(503).send({ status: "unavailable", error: "the store does not answer" });
    }
  });

  app.get<{ Querystring: { repo?: string; limit?: string } }>("/api/runs", async (request, reply) => {
    const limit = request.query.limit === undefined ? 50 : Number(request.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      return reply.status(400).send({ error: "limit must be an integer from 1 to 500" });
    }
    return { runs: await listRuns(db, { repo: request.query.repo, limit }) };
  });

  app.get<{ Params: { id: string } }>("/api/runs/:id", async (request, reply) => {
    const run = await getRun(db, request.params.id);
    return run ?? reply.status(404).send({ error: `no run ${request.params.id}` });
  });

  app.get<{ Params: { id: string; stage: string } }>("/api/runs/:id/stages/:stage/logs", async (request, reply) => {
    const run = await getRun(db, request.params.id);
    if (!run) return reply.status(404).send({ error: `no run ${request.params.id}` });
    if (!run.stages?.some((s) => s.id === request.params.stage)) {
      return reply.status(404).send({ error: `run ${run.id} has no stage ${request.params.stage}` });
    }
    const log = await readStageLog(db, { runId: run.id, stageId: request.params.stage });
    return reply.type("text/plain; charset=utf-8").send(log.chunks.map((c) => c.data).join(""));
  });

  for (const forge of ["github", "gitea"] as const) {
    app.post(`/webhooks/${forge}`, async (_request, reply) => {
      if (!options.webhookSecrets[forge]) {
        const variable = forge === "github" ? "HODEI_GITHUB_WEBHOOK_SECRET" : "HODEI_GITEA_WEBHOOK_SECRET";
        return reply.status(503).send({ error: `${forge} webhooks are not configured: set ${variable}` });
      }
      return reply.status(501).send({ error: `${forge} webhook intake is not implemented in this version` });
    });
  }
  return app;
}
