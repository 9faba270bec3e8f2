/** `GET /api/audit?limit=N&before=ID`: the audit trail, newest first; the admin token only. */
import type { FastifyInstance } from "fastify";
import { accessPolicyFor } from "../../access/access-policy.js";
import { AuditLog } from "../../access/audit.js";
import { badRequest } from "../errors.js";
import type { HttpAppOptions } from "../options.js";

export function registerAuditRoutes(app: FastifyInstance, options: HttpAppOptions): void {
  const policy = accessPolicyFor(options);
  const audit = new AuditLog(options.db);
  app.get<{ Querystring: { limit?: string; before?: string } }>(
    "/api/audit",
    {
      onRequest: async (request, reply) => {
        await policy.admin(request, reply);
      },
    },
    async (request) => {
      const limit = request.query.limit === undefined ? 100 : Number(request.query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badRequest("limit must be an integer from 1 to 1000");
      const before = request.query.before === undefined ? undefined : Number(request.query.before);
      if (before !== undefined && !Number.isInteger(before)) throw badRequest("before must be an entry id");
      const entries = await audit.list({ limit: limit + 1, before });
      const page = entries.slice(0, limit);
      return { entries: page, next: entries.length > limit ? (page.at(-1)?.id ?? null) : null };
    },
  );
}
