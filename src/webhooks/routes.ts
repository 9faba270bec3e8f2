/**
 * `POST /webhooks/github` and `POST /webhooks/gitea` (SPEC 3). In order: the
 * forge is configured (else 503), the signature matches the raw bytes (else
 * 401, nothing stored), the delivery headers and JSON are well formed (else
 * 400), then the delivery is stored and answered 202, or 200 when its id was
 * seen before. The work happens later, in the delivery processor, which a
 * NOTIFY sent by the insert's own statement (so at its commit) wakes up.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Database } from "../store/database.js";
import { insertDelivery, type ForgeKind } from "./delivery-store.js";
import { giteaVerifier, githubVerifier, type Verifier } from "./signature.js";
import { RECONCILED_EVENT } from "./reconciled-events.js";

/** Per forge: the current secret, or the current one first and older ones still accepted. */
export interface WebhookSecrets {
  github?: string | readonly string[] | undefined;
  gitea?: string | readonly string[] | undefined;
}

export interface WebhookRouteOptions {
  db: Database;
  secrets: WebhookSecrets;
  now?: () => Date;
}

/** The NOTIFY channel that wakes the delivery processor (a latency hint only). */
export const DELIVERY_CHANNEL = "hodei_webhook_deliveries";

const HEADERS = {
  github: { delivery: "x-github-delivery", event: "x-github-event", signature: "x-hub-signature-256" },
  gitea: { delivery: "x-gitea-delivery", event: "x-gitea-event", signature: "x-gitea-signature" },
} as const;

const VARIABLES = { github: "HODEI_GITHUB_WEBHOOK_SECRET", gitea: "HODEI_GITEA_WEBHOOK_SECRET" } as const;

export function registerWebhookRoutes(app: FastifyInstance, options: WebhookRouteOptions): void {
  // An encapsulated scope: its body parser (raw bytes, for the signature) touches no other route.
  void app.register((scope, _opts, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, next) => next(null, body));
    for (const forge of ["github", "gitea"] as const) {
      const list = secretList(options.secrets[forge]);
      const verify = list.length > 0 ? (forge === "github" ? githubVerifier(list) : giteaVerifier(list)) : null;
      scope.post(`/webhooks/${forge}`, (request, reply) => receive(forge, verify, options, request, reply));
    }
    done();
  });
}

async function receive(
  forge: ForgeKind,
  verify: Verifier | null,
  options: WebhookRouteOptions,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  if (!verify) {
    return reply.status(503).send({ error: `${forge} webhooks are not configured: set ${VARIABLES[forge]}` });
  }
  const names = HEADERS[forge];
  const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  if (!(await verify(raw, header(request, names.signature)))) {
    return reply.status(401).send({ error: `missing or bad ${names.signature} signature` });
  }
  if (forge === "github" && header(request, "x-gitea-event")) {
    // Gitea sends GitHub-style headers too; its deliveries belong on the other endpoint.
    return reply.status(400).send({ error: "this is a Gitea delivery (X-Gitea-Event): send it to /webhooks/gitea" });
  }
  const deliveryId = header(request, names.delivery);
  const event = header(request, names.event);
  const missing = [!deliveryId && names.delivery, !event && names.event].filter(Boolean);
  if (!deliveryId || !event) return reply.status(400).send({ error: `missing header(s): ${missing.join(", ")}` });
  if (event === RECONCILED_EVENT) return reply.status(400).send({ error: `${event} is Hodei's own event (the push reconciler's), never a forge's` });

  const payload = parsePayload(header(request, "content-type") ?? "", raw);
  if (!payload.ok) return reply.status(payload.status).send({ error: payload.error });

  const now = options.now?.() ?? new Date();
  const inserted = await insertDelivery(options.db, { forge, deliveryId, event, payload: payload.json }, now, {
    channel: DELIVERY_CHANNEL,
    payload: `${forge}:${deliveryId}`,
  });
  if (!inserted) return reply.status(200).send({ delivery: deliveryId, duplicate: true });
  return reply.status(202).send({ delivery: deliveryId, accepted: true });
}

type Parsed = { ok: true; json: string } | { ok: false; status: 400 | 415; error: string };

/** The payload as JSON text (checked to be an object); forms carry it in `payload=`. */
function parsePayload(contentType: string, raw: Buffer): Parsed {
  const type = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  let text: string;
  if (type === "application/json") text = raw.toString("utf8");
  else if (type === "application/x-www-form-urlencoded") {
    const field = new URLSearchParams(raw.toString("utf8")).get("payload");
    if (field === null) return { ok: false, status: 400, error: "form delivery without a payload field" };
    text = field;
  } else return { ok: false, status: 415, error: `unsupported content type ${JSON.stringify(type)}: expected application/json` };
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return { ok: false, status: 400, error: "the payload must be a JSON object" };
    }
  } catch {
    return { ok: false, status: 400, error: "the payload is not valid JSON" };
  }
  return { ok: true, json: text };
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first === "" ? undefined : first;
}

function secretList(value: string | readonly string[] | undefined): string[] {
  if (value === undefined) return [];
  return (typeof value === "string" ? [value] : [...value]).filter((s) => s.length > 0);
}
