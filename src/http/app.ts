/**
 * The HTTP face of the control plane (SPEC 3): health, metrics, the API, the
 * dashboard and the webhook endpoints. Fastify handles routing, content types
 * and body limits; each route module only translates between HTTP and the
 * store or engine. Every 4xx/5xx body is `{ "error": "..." }`.
 */
import Fastify, { type FastifyInstance } from "fastify";
import { createMetrics, webhookDeliveries, webhookOutcome } from "../observability/metrics.js";
import { registerWebhookRoutes } from "../webhooks/routes.js";
import { systemClock } from "../engine/system-clock.js";
import { StoreWriteProbe } from "../store/write-probe.js";
import { registerCors } from "./cors.js";
import { acceptEmptyJsonBodies } from "./json-body.js";
import type { HttpAppOptions } from "./options.js";
import { registerAccessRoutes } from "./routes/access.js";
import { registerActionRoutes } from "./routes/actions.js";
import { registerAgentTokenRoutes } from "./routes/agent-tokens.js";
import { registerDashboardRoutes } from "./routes/dashboard.js";
import { registerLogRoutes } from "./routes/logs.js";
import { registerMetricsRoute } from "./routes/metrics.js";
import { registerRunRoutes } from "./routes/runs.js";
import { registerSecretRoutes } from "./routes/secrets.js";

export type { HttpAppOptions } from "./options.js";

export function buildHttpApp(options: HttpAppOptions): FastifyInstance {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: 25 * 1024 * 1024,
    // Live streams never go idle: closing the server ends them rather than waiting.
    forceCloseConnections: true,
    // Unknown keys are errors (400), not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  }) as unknown as FastifyInstance;
  const { db } = options;
  acceptEmptyJsonBodies(app);
  registerCors(app, options.corsOrigins ?? []);

  app.setErrorHandler((error: { statusCode?: number; message: string }, request, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status >= 500) request.log.error({ err: error }, "request failed");
    void reply.status(status).send({ error: status === 500 ? "internal error" : error.message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: `no route ${request.method} ${request.url.split("?")[0] ?? ""}` });
  });

  // Request log lines carry the run and stage they are about, as fields.
  app.addHook("preHandler", (request, reply, done) => {
    const params = request.params as { id?: string; stage?: string } | undefined;
    if (params?.id && request.url.startsWith("/api/runs/")) {
      // The reply's logger writes "request completed": it gets the ids too.
      request.log = reply.log = request.log.child({ runId: params.id, ...(params.stage ? { stageId: params.stage } : {}) });
    }
    done();
  });

  // A store that answers but cannot be written to is as down as one that does not answer (write-probe.ts).
  const storeHealth = options.storeHealth ?? new StoreWriteProbe({ db, clock: systemClock });
  app.get("/healthz", async (_request, reply) => {
    const health = await storeHealth.check();
    if (health.ok) return { status: "ok" };
    return reply.status(503).send({ status: "unavailable", error: health.reason });
  });

  let metrics = options.metrics;
  if (!metrics) {
    const engine = options.engine;
    metrics = createMetrics({ connectedAgents: () => engine?.connectedAgents ?? 0 });
    if (engine) {
      const unsubscribe = engine.subscribe(metrics.listener);
      app.addHook("onClose", () => {
        unsubscribe();
        return Promise.resolve();
      });
    }
  }
  registerMetricsRoute(app, metrics);
  registerAccessRoutes(app, options);
  registerRunRoutes(app, options);
  registerActionRoutes(app, options);
  registerLogRoutes(app, options);
  registerSecretRoutes(app, options);
  registerAgentTokenRoutes(app, options);
  void app.register(registerDashboardRoutes);

  registerWebhookRoutes(app, { db, secrets: options.webhookSecrets });
  // Deliveries are counted here, from the answer the intake gave, so every outcome is counted once.
  app.addHook("onResponse", (request, reply, done) => {
    const forge = /^\/webhooks\/(github|gitea)(?:\?|$)/.exec(request.url)?.[1];
    if (forge && request.method === "POST") webhookDeliveries.inc({ forge, outcome: webhookOutcome(reply.statusCode) });
    done();
  });
  return app;
}
