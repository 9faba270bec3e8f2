/**
 * Bearer-token auth for write calls (SPEC 3). No token configured means no
 * writes at all (403), so a server started without HODEI_ADMIN_TOKEN cannot
 * be driven by anyone who reaches its port.
 */
import { timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { HttpError } from "./errors.js";

export function adminAuth(adminToken: string | undefined): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return (request, reply) => {
    if (!adminToken) {
      return Promise.reject(new HttpError(403, "the write API is disabled: start the server with HODEI_ADMIN_TOKEN set"));
    }
    const header = request.headers.authorization;
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match?.[1]) {
      void reply.header("www-authenticate", 'Bearer realm="hodei"');
      return Promise.reject(new HttpError(401, "missing bearer token: send Authorization: Bearer $HODEI_ADMIN_TOKEN"));
    }
    if (!safeEqual(match[1], adminToken)) {
      void reply.header("www-authenticate", 'Bearer realm="hodei", error="invalid_token"');
      return Promise.reject(new HttpError(401, "invalid bearer token"));
    }
    return Promise.resolve();
  };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
