/** `GET /api/runs` (paged), `GET /api/runs/:id`, `GET /api/runs/:id/events` and the manual trigger `POST /api/runs`. */
import type { FastifyInstance } from "fastify";
import { getRun, listRunEvents, listRuns } from "../../store/run-queries.js";
import { accessPolicyFor } from "../../access/access-policy.js";
import { ManualTriggerError, type ManualRefusal } from "../../triggers/manual-trigger.js";
import { HttpError, badRequest, notFound, unavailable } from "../errors.js";
import type { HttpAppOptions } from "../options.js";
import { wantsFollow } from "../sse.js";
import { streamRuns } from "./run-stream.js";

const MAX_LIMIT = 500;

/** A URL Hodei will not fetch is the caller's mistake (400); a repository git cannot fetch, 502; the rest is about the repository's content (422). */
const MANUAL_REFUSAL_STATUS: Record<ManualRefusal, number> = {
  bad_url: 400,
  unreachable: 502,
  no_ref: 422,
  no_commit: 422,
  no_pipeline: 422,
  invalid_pipeline: 422,
  bad_inputs: 422,
};

export function registerRunRoutes(app: FastifyInstance, options: HttpAppOptions): void {
  const { db } = options;
  const policy = accessPolicyFor(options);

  app.get<{ Querystring: { repo?: string; limit?: string; before?: string } }>("/api/runs", async (request, reply) => {
    const reader = await policy.reader(request, reply);
    const limit = request.query.limit === undefined ? 50 : Number(request.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw badRequest(`limit must be an integer from 1 to ${MAX_LIMIT}`);
    const before = request.query.before === undefined ? undefined : decodeCursor(request.query.before);
    const repo = request.query.repo || undefined;
    // One extra row says whether another page exists.
    const rows = await listRuns(db, { repo, limit: limit + 1, before, reader });
    const runs = rows.slice(0, limit);
    const last = runs[runs.length - 1];
    return { runs, next: rows.length > limit && last ? encodeCursor(last) : null };
  });

  app.get<{ Params: { id: string } }>("/api/runs/:id", async (request, reply) => {
    const repo = await policy.readableRun(request, reply, request.params.id);
    const run = await getRun(db, request.params.id);
    if (!run) throw notFound(`no run ${request.params.id}`);
    // For a signed-in person: what they may do here, from the cached forge listing (writes still ask the forge).
    const viewer = await policy.viewer(request, repo);
    return viewer ? { ...run, viewer } : run;
  });

  app.post<{ Body: { repo: string; ref: string; sha?: string } }>(
    "/api/runs",
    {
      bodyLimit: 64 * 1024,
      // The admin token only: a person's token cannot start runs from any clone URL.
      onRequest: (request, reply) => policy.admin(request, reply),
      schema: {
        body: {
          type: "object",
          additionalProperties: false,
          required: ["repo", "ref"],
          properties: {
            repo: { type: "string", minLength: 1, maxLength: 2048 },
            ref: { type: "string", pattern: "^refs/(heads|tags)/.+" },
            sha: { type: "string", pattern: "^[0-9a-f]{40}([0-9a-f]{24})?$" },
            // Checked against the pipeline's on.manual.inputs once its file is read.
            inputs: {
              type: "object",
              maxProperties: 100,
              propertyNames: { maxLength: 100 },
              additionalProperties: { type: ["string", "number", "boolean"], maxLength: 10_000 },
            },
          },
        },
      },
    },
    async (request, reply) => {
      if (!options.triggerManual) throw unavailable("manual triggers are not configured on this server");
      let id: string;
      try {
        ({ id } = await options.triggerManual(request.body));
      } catch (error) {
        if (error instanceof ManualTriggerError) throw new HttpError(MANUAL_REFUSAL_STATUS[error.refusal], error.message);
        throw error;
      }
      return reply.status(201).header("location", `/api/runs/${id}`).send({ id });
    },
  );

  // The recorded history, or with ?follow=1 the run's live state (run-stream.ts).
  app.get<{ Params: { id: string }; Querystring: { follow?: string } }>("/api/runs/:id/events", async (request, reply) => {
    await policy.readableRun(request, reply, request.params.id);
    if (wantsFollow(request.query.follow)) {
      if (!(await getRun(db, request.params.id))) throw notFound(`no run ${request.params.id}`);
      streamRuns(reply, options, request.params.id, undefined);
      return reply;
    }
    const events = await listRunEvents(db, request.params.id);
    if (events.length === 0) throw notFound(`no run ${request.params.id}`);
    return { events };
  });

  // Every run as it changes, for the runs list; a restricted reader gets only the runs they may read.
  app.get("/api/events", async (request, reply) => {
    const reader = await policy.reader(request, reply);
    streamRuns(reply, options, null, reader && ((runId) => policy.mayRead(reader, runId)));
    return reply;
  });
}

export function encodeCursor(run: { createdAt: string; id: string }): string {
  return Buffer.from(JSON.stringify([run.createdAt, run.id])).toString("base64url");
}

function decodeCursor(text: string): { createdAt: string; id: string } {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === "string" && typeof value[1] === "string" && !Number.isNaN(Date.parse(value[0]))) {
      return { createdAt: value[0], id: value[1] };
    }
  } catch {
    // fall through to the 400
  }
  throw badRequest("before must be a cursor from a previous page's `next`");
}
