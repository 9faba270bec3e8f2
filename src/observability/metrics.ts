/**
 * Prometheus metrics (`GET /metrics`). Run and stage numbers are derived from
 * the engine's events as they are stored; the webhook counter is module-level
 * and fed by the HTTP app from each delivery's answer (webhookOutcome).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { EngineListener } from "../engine/engine.js";

/** Webhook deliveries by forge and outcome (see webhookOutcome). */
export const webhookDeliveries = new Counter({
  name: "hodei_webhook_deliveries_total",
  help: "Webhook deliveries received, by forge and outcome",
  labelNames: ["forge", "outcome"] as const,
  registers: [],
});

/**
 * Log batches agents sent over their streams, and the bytes in them: how well
 * the agents' batching works (a stage printing at full speed should need few
 * messages). Module-level, fed by the agent server as each batch arrives.
 */
export const agentLogMessages = new Counter({
  name: "hodei_agent_log_messages_total",
  help: "Log messages (batches of stage output) received from agents",
  registers: [],
});
export const agentLogBytes = new Counter({
  name: "hodei_agent_log_bytes_total",
  help: "Bytes of stage output received from agents in log messages",
  registers: [],
});

/** A delivery's outcome from the intake's status code (SPEC 3: 202 stored, 200 seen before, 401 bad signature, ...). */
export function webhookOutcome(status: number): string {
  switch (status) {
    case 202:
      return "accepted";
    case 200:
      return "duplicate";
    case 401:
      return "bad_signature";
    case 400:
      return "malformed";
    case 413:
      return "too_large";
    case 415:
      return "unsupported_media_type";
    case 503:
      return "not_configured";
    default:
      return status >= 500 ? "error" : `status_${status}`;
  }
}

export interface Metrics {
  readonly registry: Registry;
  /** Subscribe this to the engine. */
  readonly listener: EngineListener;
}

export interface MetricsOptions {
  /** Read at scrape time. */
  connectedAgents?: () => number;
  /** Process metrics (CPU, memory, event loop); once per process, so off in tests. */
  processMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  registry.registerMetric(webhookDeliveries);
  registry.registerMetric(agentLogMessages);
  registry.registerMetric(agentLogBytes);
  if (options.processMetrics) collectDefaultMetrics({ register: registry });

  const runs = new Counter({
    name: "hodei_runs_completed_total",
    help: "Runs completed, by conclusion",
    labelNames: ["conclusion"] as const,
    registers: [registry],
  });
  const stages = new Counter({
    name: "hodei_stages_completed_total",
    help: "Stage instances completed, by conclusion",
    labelNames: ["conclusion"] as const,
    registers: [registry],
  });
  const queueWait = new Histogram({
    name: "hodei_stage_queue_wait_seconds",
    help: "Time from a stage attempt being queued to an agent starting it",
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "hodei_stage_duration_seconds",
    help: "Duration of stage attempts, from start to finish, by outcome",
    labelNames: ["outcome"] as const,
    buckets: [0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [registry],
  });
  const connectedAgents = options.connectedAgents ?? (() => 0);
  new Gauge({
    name: "hodei_connected_agents",
    help: "Agents connected to this server",
    registers: [registry],
    collect() {
      this.set(connectedAgents());
    },
  });

  // Attempt timestamps in flight, by run/stage/attempt; dropped when the attempt ends.
  const queuedAt = new Map<string, number>();
  const startedAt = new Map<string, number>();
  const listener: EngineListener = {
    onEvents(state, events) {
      for (const e of events) {
        const at = Date.parse(e.at);
        switch (e.type) {
          case "stage.queued":
            queuedAt.set(key(state.id, e.data.stageId, e.data.attempt), at);
            break;
          case "attempt.started": {
            const k = key(state.id, e.data.stageId, e.data.attempt);
            const queued = queuedAt.get(k);
            if (queued !== undefined) queueWait.observe(Math.max(0, at - queued) / 1000);
            queuedAt.delete(k);
            startedAt.set(k, at);
            break;
          }
          case "attempt.finished": {
            const k = key(state.id, e.data.stageId, e.data.attempt);
            const started = startedAt.get(k);
            if (started !== undefined) duration.observe({ outcome: e.data.outcome }, Math.max(0, at - started) / 1000);
            queuedAt.delete(k);
            startedAt.delete(k);
            break;
          }
          case "stage.completed": {
            stages.inc({ conclusion: e.data.conclusion });
            // A stage skipped or cancelled while queued never starts: forget its queue time.
            const k = key(state.id, e.data.stageId, state.stages.get(e.data.stageId)?.attempt ?? 0);
            queuedAt.delete(k);
            startedAt.delete(k);
            break;
          }
          case "run.completed":
            runs.inc({ conclusion: e.data.conclusion });
            break;
          default:
            break;
        }
      }
    },
  };
  return { registry, listener };
}

function key(runId: string, stageId: string, attempt: number): string {
  return `${runId}\u0000${stageId}\u0000${attempt}`;
}
