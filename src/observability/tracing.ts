/**
 * OpenTelemetry tracing, on only when an OTLP endpoint is configured by the
 * standard variables (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
 * OTEL_EXPORTER_OTLP_ENDPOINT). The SDK and exporter are imported only then,
 * so a server without tracing neither loads nor pays for them.
 */
import type { FastifyInstance } from "fastify";
import type { EngineListener } from "../engine/engine-options.js";
import type { DeliveryHandler } from "../webhooks/processor.js";
import type { Spans } from "./spans.js";

export interface TracingConfig {
  /** OTEL_SERVICE_NAME, default `hodei`. */
  serviceName: string;
  /** Where spans go, for the start-up message; the exporter reads the same variables itself. */
  endpoint: string;
}

/** What the server wires in: spans for the triggers, an engine listener, the delivery wrapper, the HTTP hooks. */
export interface Tracing {
  readonly spans: Spans;
  /** Run and stage-attempt spans from the engine's events. */
  readonly listener: EngineListener;
  /** A span per processed delivery, child of the span of its receipt when this process received it. */
  deliveryHandler(handle: DeliveryHandler): DeliveryHandler;
  /** A span per webhook request (`POST /webhooks/:forge`). */
  instrumentHttp(app: FastifyInstance): void;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

export function tracingConfigFromEnv(env: NodeJS.ProcessEnv): TracingConfig | null {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return null;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  const endpoint = traces || (base ? `${base.replace(/\/+$/, "")}/v1/traces` : "");
  if (!endpoint) return null;
  return { serviceName: env.OTEL_SERVICE_NAME?.trim() || "hodei", endpoint };
}

/** Null when no endpoint is configured; else loads the SDK and starts exporting. */
export async function startTracing(env: NodeJS.ProcessEnv = process.env): Promise<Tracing | null> {
  const config = tracingConfigFromEnv(env);
  if (!config) return null;
  const { OtelTracing } = await import("./otel-tracing.js");
  return OtelTracing.start(config);
}
