/**
 * The dashboard: static ES modules and CSS from `dashboard/` (no build step),
 * and its client-side routes (`/`, `/runs/:id`, `/runs/:id/stages/:stage`, `/tokens`)
 * all answered with the same index.html.
 */
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply } from "fastify";

/** `dashboard/` at the package root, from src/http/routes or dist/http/routes alike. */
export const DASHBOARD_DIR = fileURLToPath(new URL("../../../dashboard/", import.meta.url));

export async function registerDashboardRoutes(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, { root: DASHBOARD_DIR, prefix: "/assets/", index: false, cacheControl: true, maxAge: 0 });
  const page = (_request: unknown, reply: FastifyReply) => reply.header("cache-control", "no-cache").sendFile("index.html");
  app.get("/", page);
  app.get("/runs/:id", page);
  app.get("/runs/:id/stages/:stage", page);
  app.get("/tokens", page);
}
