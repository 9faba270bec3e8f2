/**
 * The operator's registration tokens for standalone agents (`hodei agent --token`):
 * create (the token is in this answer only; the store keeps its hash), list
 * (never the secret) and revoke. Bearer token on every call, reads included:
 * the list says which agents may join.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AgentTokens } from "../../grpc/agent-tokens.js";
import { accessPolicyFor } from "../../access/access-policy.js";
import { notFound } from "../errors.js";
import type { HttpAppOptions } from "../options.js";

/** Ten years: a bound that catches a unit mistake, not a policy. */
export const MAX_TOKEN_LIFETIME_SECONDS = 10 * 365 * 24 * 3600;

export function registerAgentTokenRoutes(app: FastifyInstance, options: HttpAppOptions): void {
  const tokens = new AgentTokens(options.db);
  const policy = accessPolicyFor(options);
  // The admin token only, also with sign-in configured (a person's token is answered 403).
  const auth = (request: FastifyRequest, reply: FastifyReply) => policy.admin(request, reply);

  app.post<{ Body: { description?: string; expiresInSeconds?: number } | null }>(
    "/api/agent-tokens",
    {
      bodyLimit: 16 * 1024,
      onRequest: auth,
      schema: {
        body: {
          type: ["object", "null"],
          additionalProperties: false,
          properties: {
            description: { type: "string", maxLength: 200 },
            expiresInSeconds: { type: "integer", minimum: 60, maximum: MAX_TOKEN_LIFETIME_SECONDS },
          },
        },
      },
    },
    async (request, reply) => {
      const body = request.body ?? {};
      const issued = await tokens.issue("registration", {
        description: body.description ?? "",
        ttlMs: body.expiresInSeconds === undefined ? undefined : body.expiresInSeconds * 1000,
      });
      return reply
        .status(201)
        .header("cache-control", "no-store")
        .send({ id: issued.id, token: issued.token, description: body.description ?? "", expiresAt: issued.expiresAt?.toISOString() ?? null });
    },
  );

  app.get("/api/agent-tokens", { onRequest: auth }, async () => ({ tokens: await tokens.listRegistration() }));

  app.delete<{ Params: { id: string } }>("/api/agent-tokens/:id", { onRequest: auth }, async (request, reply) => {
    const outcome = await tokens.revokeRegistration(request.params.id);
    if (outcome === "unknown") throw notFound(`no registration token ${request.params.id}`);
    return reply.status(204).send();
  });
}
