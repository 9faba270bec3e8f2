/**
 * The write side on runs (SPEC 3): re-run (all, failed, one stage),
 * cancel, and approving a fork's stages that wait for it (as the
 * `/hodei approve` comment does); 202. Who may: the admin token, or (with sign-in configured) a user
 * with write permission on the run's repository, asked from the forge at
 * that moment. The run's history names who asked, and the audit log keeps
 * who, when and from where.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { accessPolicyFor } from "../../access/access-policy.js";
import { AuditLog, type AuditAction } from "../../access/audit.js";
import { actorName, type Principal } from "../../access/principal.js";
import { RunNotFoundError } from "../../engine/engine.js";
import { RerunRefusedError } from "../../saga/rerun.js";
import { getRun } from "../../store/run-queries.js";
import { approve, runTrigger } from "../../triggers/run-index.js";
import { HttpError, conflict, notFound, unavailable } from "../errors.js";
import type { HttpAppOptions, HttpEngine } from "../options.js";
import { wantsFollow } from "../sse.js";

export function registerActionRoutes(app: FastifyInstance, options: HttpAppOptions): void {
  const { db } = options;
  const policy = accessPolicyFor(options);
  const audit = new AuditLog(db);
  const engineOrFail = (): HttpEngine => {
    if (!options.engine) throw unavailable("this server has no engine: runs cannot be changed");
    return options.engine;
  };
  /** Before the body is read: 401 without credentials, 404 for a run the caller may not read, 403 without write permission. */
  const authorize = (what: string) => async (request: FastifyRequest, reply: FastifyReply) => {
    if (!policy.enforcing) {
      await policy.writer(request, reply, "", "push", what);
      return;
    }
    const { id } = request.params as { id: string };
    const repo = await policy.readableRun(request, reply, id);
    await policy.writer(request, reply, repo, "push", what);
  };
  /** "re-run requested through the API", or "... requested by octocat through the API". */
  const by = async (request: FastifyRequest): Promise<{ principal: Principal; phrase: string }> => {
    const principal = policy.enforcing ? await policy.principal(request) : ({ kind: "admin" } as const);
    return { principal, phrase: principal.kind === "user" ? `by ${principal.user.login} through the API` : "through the API" };
  };
  const record = async (request: FastifyRequest, principal: Principal, action: AuditAction, runId: string, repo: string, detail: Record<string, unknown>) => {
    await audit.record({ principal, action, runId, repo, detail, ip: request.ip }, policy.now());
  };

  app.post<{ Params: { id: string }; Querystring: { failed?: string } }>(
    "/api/runs/:id/rerun",
    { onRequest: authorize("re-run runs of") },
    async (request, reply) => {
      const engine = engineOrFail();
      const runId = request.params.id;
      const { principal, phrase } = await by(request);
      const run = await getRun(db, runId);
      if (!run) throw notFound(`no run ${runId}`);
      let stages: string[];
      if (wantsFollow(request.query.failed)) {
        stages = await rerun(() => engine.rerun(runId, { failed: true }, `re-run of failed stages requested ${phrase}`));
      } else {
        const all = (run.stages ?? []).map((s) => s.id);
        stages = await rerun(() => engine.rerun(runId, { stages: all }, `re-run requested ${phrase}`));
      }
      await record(request, principal, "run.rerun", runId, run.repo, { stages });
      return reply.status(202).send({ id: runId, stages });
    },
  );

  app.post<{ Params: { id: string; stage: string } }>("/api/runs/:id/stages/:stage/rerun", { onRequest: authorize("re-run runs of") }, async (request, reply) => {
    const engine = engineOrFail();
    const { id, stage } = request.params;
    const { principal, phrase } = await by(request);
    const stages = await rerun(() => engine.rerun(id, { stages: [stage] }, `re-run of ${stage} requested ${phrase}`));
    await record(request, principal, "run.rerun", id, (await getRun(db, id))?.repo ?? "", { stages });
    return reply.status(202).send({ id, stages });
  });

  app.post<{ Params: { id: string } }>("/api/runs/:id/cancel", { onRequest: authorize("cancel runs of") }, async (request, reply) => {
    const engine = engineOrFail();
    const runId = request.params.id;
    const { principal, phrase } = await by(request);
    const run = await getRun(db, runId);
    if (!run) throw notFound(`no run ${runId}`);
    if (run.status === "completed") throw conflict(`run ${runId} has already completed (${run.conclusion ?? "no conclusion"})`);
    if (!(await engine.cancelRun(runId, `cancelled ${phrase}`))) throw notFound(`no run ${runId}`);
    await record(request, principal, "run.cancel", runId, run.repo, {});
    return reply.status(202).send({ id: runId });
  });

  app.post<{ Params: { id: string } }>("/api/runs/:id/approve", { onRequest: authorize("approve fork stages of") }, async (request, reply) => {
    const engine = engineOrFail();
    const runId = request.params.id;
    const { principal } = await by(request);
    const run = await getRun(db, runId);
    if (!run) throw notFound(`no run ${runId}`);
    const waiting = (run.stages ?? []).filter((s) => s.waitingFor === "approval").map((s) => s.id);
    const nothing = () => conflict(`run ${runId} has no stage waiting for approval`);
    if (waiting.length === 0) throw nothing();
    const who = actorName(principal);
    // As the comment does: the forge's head is approved for later runs too (a fresh run of it waits for nothing).
    const trigger = await runTrigger(db, runId);
    if (trigger) await approve(db, { forge: trigger.forge, repo: trigger.repo, headSha: run.sha, by: who }, policy.now());
    if ((await engine.approveRun(runId, { by: who, sha: run.sha })) !== "approved") throw nothing();
    await record(request, principal, "run.approve", runId, run.repo, { sha: run.sha, stages: waiting });
    return reply.status(202).send({ id: runId, stages: waiting });
  });
}

/** Maps the engine's refusals to status codes: unknown things 404, wrong moment 409. */
async function rerun(call: () => Promise<string[]>): Promise<string[]> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof RunNotFoundError) throw notFound(error.message);
    if (error instanceof RerunRefusedError) {
      throw new HttpError(error.refusal === "unknown_stage" ? 404 : 409, error.message);
    }
    throw error;
  }
}
