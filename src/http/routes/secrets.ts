/**
 * `PUT /api/repos/:owner/:repo/secrets/:name` with `{ "value": "..." }`: 204.
 * The admin token, or a user with admin permission on the repository (asked
 * from the forge at that moment). The value is never echoed or logged; the
 * audit log records who set which name.
 */
import type { FastifyInstance } from "fastify";
import { accessPolicyFor } from "../../access/access-policy.js";
import { AuditLog } from "../../access/audit.js";
import { MAX_SECRET_BYTES, REPO_NAME, SECRET_NAME } from "../../secrets/secret-store.js";
import { badRequest, unavailable } from "../errors.js";
import type { HttpAppOptions } from "../options.js";

export function registerSecretRoutes(app: FastifyInstance, options: HttpAppOptions): void {
  const policy = accessPolicyFor(options);
  const audit = new AuditLog(options.db);
  app.put<{ Params: { owner: string; repo: string; name: string }; Body: { value: string } }>(
    "/api/repos/:owner/:repo/secrets/:name",
    {
      bodyLimit: MAX_SECRET_BYTES + 1024,
      onRequest: async (request, reply) => {
        const { owner, repo } = request.params as { owner: string; repo: string };
        await policy.writer(request, reply, `${owner}/${repo}`, "admin", "set secrets of");
      },
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["value"],
          properties: { value: { type: "string" } },
        },
      },
    },
    async (request, reply) => {
      if (!options.secrets) throw unavailable("secrets are not configured on this server");
      const { owner, repo, name } = request.params;
      const full = `${owner}/${repo}`;
      if (!REPO_NAME.test(full)) throw badRequest(`repository must be owner/name, got ${JSON.stringify(full)}`);
      if (!SECRET_NAME.test(name)) throw badRequest(`secret name must match ${SECRET_NAME.source}, got ${JSON.stringify(name)}`);
      if (Buffer.byteLength(request.body.value, "utf8") > MAX_SECRET_BYTES) throw badRequest(`secret value exceeds ${MAX_SECRET_BYTES} bytes`);
      await options.secrets.set(full, name, request.body.value);
      const principal = policy.enforcing ? await policy.principal(request) : ({ kind: "admin" } as const);
      await audit.record({ principal, action: "secret.set", repo: full, detail: { name }, ip: request.ip }, policy.now());
      return reply.status(204).send();
    },
  );
}
