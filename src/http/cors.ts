/**
 * Cross-origin access to the API, off unless the operator lists origins
 * (HODEI_CORS_ORIGINS). Only `/api/` answers cross-origin, and only with a
 * bearer token: no credentials mode, so a listed origin can never ride on a
 * signed-in person's session cookie (the dashboard is same-origin and keeps
 * its CSRF header). Webhooks, the dashboard, /metrics and /healthz never
 * send CORS headers. @fastify/cors does the protocol, preflights included.
 */
import cors from "@fastify/cors";
import type { FastifyInstance } from "fastify";

/** Response headers a cross-origin script may read. */
const EXPOSED = ["x-hodei-attempt", "retry-after", "location"];

export function registerCors(app: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return;
  const allowed = [...origins];
  void app.register(cors, {
    delegator: (request, callback) => {
      const api = request.url.startsWith("/api/");
      callback(null, {
        origin: api ? allowed : false,
        methods: ["GET", "POST", "PUT", "DELETE"],
        allowedHeaders: ["authorization", "content-type"],
        exposedHeaders: EXPOSED,
        credentials: false,
        maxAge: 600,
      });
    },
  });
}
