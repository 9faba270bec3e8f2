/**
 * Personal API tokens (issue 17), for the CLI and scripts: a signed-in user
 * creates them (the token is in that answer only; the store keeps its
 * SHA-256), lists them and revokes them. A token acts as its user, with the
 * user's forge permissions; a revoked or expired one is refused (401).
 */
import type { FastifyInstance } from "fastify";
import { accessPolicyFor } from "../../access/access-policy.js";
import type { AccessSettings } from "../../access/access-settings.js";
import { notFound } from "../errors.js";
import type { HttpAppOptions } from "../options.js";
import { MAX_TOKEN_LIFETIME_SECONDS } from "./agent-tokens.js";

export function registerUserTokenRoutes(app: FastifyInstance, options: HttpAppOptions & { access: AccessSettings }): void {
  const access = options.access;
  const policy = accessPolicyFor(options);
  const rateLimit = access.rateLimit ?? { max: 30, timeWindowMs: 60_000 };
  const limited = { rateLimit: { max: rateLimit.max, timeWindow: rateLimit.timeWindowMs } };

  app.post<{ Body: { description?: string; expiresInSeconds?: number } | null }>(
    "/api/tokens",
    {
      bodyLimit: 16 * 1024,
      config: limited,
      onRequest: async (request, reply) => {
        await policy.user(request, reply);
      },
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
      const principal = await policy.user(request, reply);
      const body = request.body ?? {};
      const at = policy.now();
      const expiresAt = body.expiresInSeconds === undefined ? null : new Date(at.getTime() + body.expiresInSeconds * 1000);
      const created = await access.users.createToken(principal.user.id, body.description ?? "", expiresAt, at);
      await access.audit.record({ principal, action: "token.create", detail: { tokenId: created.id, description: body.description ?? "" }, ip: request.ip }, at);
      return reply
        .status(201)
        .header("cache-control", "no-store")
        .send({ id: created.id, token: created.token, description: body.description ?? "", expiresAt: expiresAt?.toISOString() ?? null });
    },
  );

  app.get("/api/tokens", { config: limited }, async (request, reply) => {
    const principal = await policy.user(request, reply);
    return { tokens: await access.users.listTokens(principal.user.id) };
  });

  app.delete<{ Params: { id: string } }>("/api/tokens/:id", { config: limited }, async (request, reply) => {
    const principal = await policy.user(request, reply);
    if (!(await access.users.revokeToken(principal.user.id, request.params.id, policy.now()))) throw notFound(`you have no token ${request.params.id}`);
    await access.audit.record({ principal, action: "token.revoke", detail: { tokenId: request.params.id }, ip: request.ip }, policy.now());
    return reply.status(204).send();
  });
}
