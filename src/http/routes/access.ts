/**
 * Everything sign-in adds to the HTTP app (issue 17): the cookie parser, the
 * sign-in and personal-token endpoints behind a per-address rate limit, and
 * the admin's audit trail. The API sends no CORS headers, so browsers on
 * other origins cannot read it.
 */
import fastifyCookie from "@fastify/cookie";
import fastifyRateLimit from "@fastify/rate-limit";
import type { FastifyInstance } from "fastify";
import type { HttpAppOptions } from "../options.js";
import { registerAuditRoutes } from "./audit.js";
import { registerSignInRoutes } from "./sign-in.js";
import { registerUserTokenRoutes } from "./user-tokens.js";

export function registerAccessRoutes(app: FastifyInstance, options: HttpAppOptions): void {
  registerAuditRoutes(app, options);
  const access = options.access;
  if (!access) return;
  void app.register(fastifyCookie);
  void app.register(async (scope) => {
    await scope.register(fastifyRateLimit, { global: false });
    const withAccess = options as HttpAppOptions & { access: typeof access };
    registerSignInRoutes(scope, withAccess);
    registerUserTokenRoutes(scope, withAccess);
  });
}
