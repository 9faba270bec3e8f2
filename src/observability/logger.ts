/**
 * Structured JSON logs (pino) for the server. Run and stage ids are fields,
 * not text, so `jq 'select(.runId == "...")'` finds a run's whole story.
 * Authorization headers and request bodies (where secrets travel) are never
 * logged: fastify's request serializer leaves bodies out and the header is
 * redacted in case a serializer ever adds it.
 */
import { pino, type DestinationStream, type Logger } from "pino";
import type { EngineListener } from "../engine/engine.js";

export function createLogger(options: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      name: "hodei",
      level: options.level ?? "info",
      redact: { paths: ["req.headers.authorization", "headers.authorization", "value"], censor: "[redacted]" },
    },
    options.destination,
  );
}

/** Logs the engine's events, one line each, with runId, stageId and attempt as fields. */
export function runEventLogger(log: Logger): EngineListener {
  return {
    onEvents(state, events) {
      for (const e of events) {
        const base = { runId: state.id, repo: state.meta.repo, event: e.type, seq: e.seq };
        switch (e.type) {
          case "run.planned":
            log.info({ ...base, sha: e.data.sha, ref: e.data.ref, trigger: e.data.event, stages: e.data.stages.length }, "run planned");
            break;
          case "stage.queued":
          case "attempt.leased":
          case "attempt.started":
            log.debug({ ...base, ...e.data }, e.type);
            break;
          case "attempt.finished":
            log.info({ ...base, ...e.data }, `attempt ${e.data.outcome}`);
            break;
          case "stage.completed":
            log.info({ ...base, ...e.data }, `stage ${e.data.conclusion}`);
            break;
          case "run.cancel_requested":
          case "run.rerun_requested":
            log.info({ ...base, ...e.data }, e.type);
            break;
          case "run.completed":
            log.info({ ...base, conclusion: e.data.conclusion }, `run ${e.data.conclusion}`);
            break;
        }
      }
    },
  };
}
