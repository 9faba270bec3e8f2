/** `PUT /api/repos/:owner/:repo/secrets/:name` with `{ "value": "..." }`: bearer token, 204. The value is never echoed or logged. */
import type { FastifyInstance } from "fastify";
import { MAX_SECRET_BYTES, REPO_NAME, SECRET_NAME } from "../../secrets/secret-store.js";
import { adminAuth } from "../auth.js";
import { badRequest, unavailable } from "../errors.js";
import type { HttpAppOptions } from "../options.js";

export function registerSecretRoutes(app: FastifyInstance, options: HttpAppOptions): void {
  app.put<{ Params: { owner: string; repo: string; name: string }; Body: { value: string } }>(
    "/api/repos/:owner/:repo/secrets/:name",
    {
      bodyLimit: MAX_SECRET_BYTES + 1024,
      onRequest: adminAuth(options.adminToken),
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
      return reply.status(204).send();
    },
  );
}
