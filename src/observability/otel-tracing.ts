/**
 * The OpenTelemetry side of tracing.ts, imported only when an OTLP endpoint
 * is configured. One trace per webhook delivery:
 *
 *   webhook receive (the HTTP request)
 *   └ webhook process (the stored delivery, after the 202)
 *     ├ git fetch, pipeline plan (the triggers' steps, through Spans)
 *     └ run (run.planned → run.completed)
 *       └ stage attempt (attempt.leased → attempt.finished), one per attempt
 *
 * Runs and attempts are observed through the engine's listener: the engine
 * core does nothing for tracing. Which span is current travels in an
 * AsyncLocalStorage: the engine emits `run.planned` inside the caller's
 * async context, so a run started by a delivery (or a manual trigger)
 * becomes the child of that step. What is kept in memory (open run and
 * attempt spans, receipt spans by delivery id) is lost on a restart: a
 * resumed run's later attempts start traces of their own.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type Tracer } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_SERVICE_NAME, ATTR_URL_PATH } from "@opentelemetry/semantic-conventions";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { EngineListener } from "../engine/engine-options.js";
import type { RunEvent } from "../saga/events.js";
import type { RunState } from "../saga/run-state.js";
import type { DeliveryHandler } from "../webhooks/processor.js";
import type { SpanAttributes, Spans } from "./spans.js";
import type { Tracing, TracingConfig } from "./tracing.js";

/** Receipts waiting for their processing; bounded so deliveries never processed here cannot grow it without end. */
const MAX_PENDING_RECEIPTS = 10_000;

export class OtelTracing implements Tracing {
  private readonly current = new AsyncLocalStorage<Context>();
  private readonly receipts = new Map<string, Context>();
  private readonly runs = new Map<string, Span>();
  private readonly attempts = new Map<string, Span>();

  private constructor(
    private readonly provider: BasicTracerProvider,
    private readonly tracer: Tracer,
  ) {}

  static start(config: TracingConfig): OtelTracing {
    // The exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS and _TIMEOUT itself.
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: config.serviceName }),
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
    });
    return new OtelTracing(provider, provider.getTracer("hodei"));
  }

  readonly spans: Spans = {
    run: (name, attributes, fn) => {
      const parent = this.current.getStore() ?? ROOT_CONTEXT;
      const span = this.tracer.startSpan(name, { attributes }, parent);
      return this.current.run(trace.setSpan(parent, span), () => finish(span, fn((a) => span.setAttributes(a))));
    },
  };

  readonly listener: EngineListener = {
    onEvents: (state, events) => {
      for (const e of events) this.onEvent(state, e);
    },
  };

  deliveryHandler(handle: DeliveryHandler): DeliveryHandler {
    return (d) => {
      const key = `${d.forge}/${d.deliveryId}`;
      const parent = this.receipts.get(key) ?? ROOT_CONTEXT;
      this.receipts.delete(key);
      const span = this.tracer.startSpan(
        "webhook process",
        { attributes: { "hodei.forge": d.forge, "hodei.delivery.id": d.deliveryId, "hodei.webhook.event": d.event } },
        parent,
      );
      return this.current.run(trace.setSpan(parent, span), () =>
        finish(
          span,
          handle(d).then((result) => {
            span.setAttributes({ "hodei.delivery.status": result.status, "hodei.delivery.outcome": result.outcome });
            return result;
          }),
        ),
      );
    };
  }

  instrumentHttp(app: FastifyInstance): void {
    const open = new WeakMap<FastifyRequest, Span>();
    app.addHook("onRequest", (request, _reply, done) => {
      const forge = /^\/webhooks\/(github|gitea)(?:\?|$)/.exec(request.url)?.[1];
      if (forge && request.method === "POST") {
        const deliveryId = header(request, forge === "github" ? "x-github-delivery" : "x-gitea-delivery");
        const event = header(request, forge === "github" ? "x-github-event" : "x-gitea-event");
        const span = this.tracer.startSpan("webhook receive", {
          kind: SpanKind.SERVER,
          attributes: {
            [ATTR_HTTP_REQUEST_METHOD]: "POST",
            [ATTR_URL_PATH]: `/webhooks/${forge}`,
            "hodei.forge": forge,
            ...(deliveryId ? { "hodei.delivery.id": deliveryId } : {}),
            ...(event ? { "hodei.webhook.event": event } : {}),
          },
        });
        open.set(request, span);
        // Kept from the start: processing can begin (on NOTIFY) before the answer is sent.
        if (deliveryId) this.remember(`${forge}/${deliveryId}`, trace.setSpan(ROOT_CONTEXT, span));
      }
      done();
    });
    app.addHook("onResponse", (request, reply, done) => {
      const span = open.get(request);
      if (span) {
        span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, reply.statusCode);
        if (reply.statusCode >= 400) span.setStatus({ code: SpanStatusCode.ERROR, message: `answered ${reply.statusCode}` });
        span.end();
        open.delete(request);
      }
      done();
    });
  }

  async shutdown(): Promise<void> {
    const now = new Date();
    for (const span of [...this.attempts.values(), ...this.runs.values()]) span.end(now);
    this.attempts.clear();
    this.runs.clear();
    await this.provider.shutdown();
  }

  private remember(key: string, ctx: Context): void {
    this.receipts.set(key, ctx);
    while (this.receipts.size > MAX_PENDING_RECEIPTS) {
      const oldest = this.receipts.keys().next();
      if (oldest.done) break;
      this.receipts.delete(oldest.value);
    }
  }

  private onEvent(state: RunState, e: RunEvent): void {
    const at = new Date(e.at);
    switch (e.type) {
      case "run.planned":
      case "run.rerun_requested": {
        this.runs.get(state.id)?.end(at);
        const parent = e.type === "run.planned" ? (this.current.getStore() ?? ROOT_CONTEXT) : ROOT_CONTEXT;
        const m = state.meta;
        const attributes: SpanAttributes = {
          "hodei.run.id": state.id,
          "hodei.pipeline": m.pipeline,
          "hodei.repo": m.repo,
          "hodei.sha": m.sha,
          "hodei.event": m.event,
          "hodei.stages": state.stages.size,
        };
        if (m.ref) attributes["hodei.ref"] = m.ref;
        if (e.type === "run.rerun_requested") attributes["hodei.rerun.stages"] = e.data.stageIds.join(",");
        this.runs.set(state.id, this.tracer.startSpan(`run ${m.pipeline}`, { attributes, startTime: at }, parent));
        return;
      }
      case "attempt.leased": {
        const run = this.runs.get(state.id);
        const parent = run ? trace.setSpan(ROOT_CONTEXT, run) : ROOT_CONTEXT;
        const span = this.tracer.startSpan(
          `stage ${e.data.stageId}`,
          {
            attributes: {
              "hodei.run.id": state.id,
              "hodei.stage.id": e.data.stageId,
              "hodei.attempt": e.data.attempt,
              "hodei.agent.id": e.data.agentId,
              "hodei.repo": state.meta.repo,
              "hodei.sha": state.meta.sha,
            },
            startTime: at,
          },
          parent,
        );
        this.attempts.set(attemptKey(state.id, e.data.stageId, e.data.attempt), span);
        return;
      }
      case "attempt.started":
        this.attempts.get(attemptKey(state.id, e.data.stageId, e.data.attempt))?.addEvent("started", at);
        return;
      case "attempt.finished": {
        const key = attemptKey(state.id, e.data.stageId, e.data.attempt);
        const span = this.attempts.get(key);
        if (!span) return;
        this.attempts.delete(key);
        span.setAttributes({ "hodei.outcome": e.data.outcome, ...(e.data.exitCode === null ? {} : { "hodei.exit_code": e.data.exitCode }) });
        if (e.data.reason) span.setAttribute("hodei.reason", e.data.reason);
        if (e.data.outcome !== "success") span.setStatus({ code: SpanStatusCode.ERROR, message: e.data.reason ?? e.data.outcome });
        span.end(at);
        return;
      }
      case "run.completed": {
        const span = this.runs.get(state.id);
        if (!span) return;
        this.runs.delete(state.id);
        span.setAttribute("hodei.conclusion", e.data.conclusion);
        if (e.data.conclusion === "failure") span.setStatus({ code: SpanStatusCode.ERROR, message: "run failed" });
        span.end(at);
        return;
      }
      default:
        return;
    }
  }
}

function attemptKey(runId: string, stageId: string, attempt: number): string {
  return `${runId}\u0000${stageId}\u0000${attempt}`;
}

function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === "string" && v.length <= 200 ? v : undefined;
}

async function finish<T>(span: Span, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
    throw error;
  } finally {
    span.end();
  }
}
