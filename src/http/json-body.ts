/**
 * JSON request bodies. Many HTTP clients send `Content-Type: application/json`
 * with an empty body for actions that take no input (`/cancel`, `/rerun`);
 * Fastify's own parser answers those 400. Here an empty (or all-whitespace)
 * body means "no body", and anything else goes through Fastify's default
 * parser, so malformed JSON and prototype poisoning are still refused.
 */
import type { FastifyInstance } from "fastify";

export function acceptEmptyJsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") {
      done(null, undefined);
      return;
    }
    void parseJson(request, text, done);
  });
}
