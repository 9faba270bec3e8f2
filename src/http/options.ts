/** What the HTTP app is built from: the store, and optionally the engine and the rest of the server. */
import type { Logger } from "pino";
import type { AccessSettings } from "../access/access-settings.js";
import type { Engine } from "../engine/engine.js";
import type { Metrics } from "../observability/metrics.js";
import type { SecretStore } from "../secrets/secret-store.js";
import type { Database } from "../store/database.js";
import type { WriteProbeResult } from "../store/write-probe.js";
import type { WebhookSecrets } from "../webhooks/routes.js";

/** The part of the engine the HTTP API uses. */
export type HttpEngine = Pick<Engine, "cancelRun" | "rerun" | "approveRun" | "subscribe" | "connectedAgents">;

export interface ManualTrigger {
  repo: string;
  ref: string;
  sha?: string;
}

export interface HttpAppOptions {
  db: Database;
  webhookSecrets: WebhookSecrets;
  /** Without it, write endpoints answer 503 and streams end after what is stored. */
  engine?: HttpEngine;
  /** Bearer token for write calls; unset refuses every write with 403. */
  adminToken?: string;
  /** Without it, `PUT .../secrets/:name` answers 503. */
  secrets?: SecretStore;
  /** Starts a manual run from a clone URL; without it, `POST /api/runs` answers 503. */
  triggerManual?: (input: ManualTrigger) => Promise<{ id: string }>;
  /** Default: a fresh registry observing `engine`. */
  metrics?: Metrics;
  /** Structured request logs; default none. */
  logger?: Logger;
  /** Sign-in through the forges (issue 17); without it (or with no forge configured) reads are open and writes take the admin token. */
  access?: AccessSettings;
  /** What `/healthz` reports; default: a write probe of `db` (store/write-probe.ts). */
  storeHealth?: { check(): Promise<WriteProbeResult> };
  /** HODEI_CORS_ORIGINS: origins whose scripts may call `/api/` with a bearer token; default none (no CORS headers). */
  corsOrigins?: readonly string[];
  /** SSE keep-alive comment interval. */
  heartbeatMs?: number;
}
