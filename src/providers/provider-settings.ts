/**
 * Settings of the per-attempt providers, from the environment. Checked once
 * at start, like the rest of the server configuration (server/config.ts).
 */
import { ConfigError } from "../server/config.js";
import { dockerConnectionOf, type DockerConnection } from "./docker-connection.js";
import type { StageResources } from "./provider.js";

export interface ProviderSettings {
  /** HODEI_AGENT_SERVER: host:port provisioned agents dial; default 127.0.0.1:<gRPC port> (right for host networking). */
  agentServer: string | null;
  /** HODEI_AGENT_IMAGE: a published agent image for docker and kubernetes stages; null: this server's own (agent-image.ts). */
  agentImage: string | null;
  /** HODEI_PROVISION_TIMEOUT: an agent not connected this long after provisioning ends its attempt (default 120 s). */
  provisionTimeoutMs: number;
  /** HODEI_STAGE_CPUS, HODEI_STAGE_MEMORY: limits of each provisioned stage (default none). */
  resources: StageResources;
  docker: {
    /** HODEI_DOCKER_NETWORK: the containers' network mode (default `host`). */
    network: string;
    /** HODEI_DOCKER_PULL: `missing` (default) pulls images the engine lacks; `never` fails the attempt instead. */
    pull: "missing" | "never";
    /** DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH: where the engine is and how to reach it (docker-connection.ts). */
    connection: DockerConnection;
  };
  kubernetes: {
    /** HODEI_KUBERNETES_NAMESPACE (default `default`). */
    namespace: string;
  };
}

export function loadProviderSettings(env: NodeJS.ProcessEnv = process.env): ProviderSettings {
  const pull = env.HODEI_DOCKER_PULL || "missing";
  if (pull !== "missing" && pull !== "never") throw new ConfigError("HODEI_DOCKER_PULL", `expected missing or never, got ${JSON.stringify(pull)}`);
  const namespace = env.HODEI_KUBERNETES_NAMESPACE || "default";
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) throw new ConfigError("HODEI_KUBERNETES_NAMESPACE", `not a namespace name: ${JSON.stringify(namespace)}`);
  const agentServer = env.HODEI_AGENT_SERVER || null;
  if (agentServer !== null && !/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(agentServer)) {
    throw new ConfigError("HODEI_AGENT_SERVER", `expected HOST:PORT, got ${JSON.stringify(agentServer)}`);
  }
  const agentImage = env.HODEI_AGENT_IMAGE || null;
  if (agentImage !== null && !/^[a-z0-9][a-z0-9._\-/:@]*$/i.test(agentImage)) {
    throw new ConfigError("HODEI_AGENT_IMAGE", `expected an image reference like registry.example.com/hodei-agent:0.1.0, got ${JSON.stringify(agentImage)}`);
  }
  return {
    agentServer,
    agentImage,
    provisionTimeoutMs: durationMs(env, "HODEI_PROVISION_TIMEOUT", 120_000),
    resources: { cpus: cpusOf(env), memoryBytes: memoryOf(env) },
    docker: { network: env.HODEI_DOCKER_NETWORK || "host", pull, connection: dockerConnectionOf(env) },
    kubernetes: { namespace },
  };
}

/** `90s`, `2m`, or seconds. */
function durationMs(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (!raw) return fallback;
  const m = /^(\d+)(s|m)?$/.exec(raw);
  if (!m?.[1] || Number(m[1]) === 0) throw new ConfigError(name, `expected a duration like 90s or 2m, got ${JSON.stringify(raw)}`);
  return Number(m[1]) * (m[2] === "m" ? 60_000 : 1000);
}

function cpusOf(env: NodeJS.ProcessEnv): number | null {
  const raw = env.HODEI_STAGE_CPUS;
  if (!raw) return null;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > 1024) throw new ConfigError("HODEI_STAGE_CPUS", `expected a positive number of CPUs, got ${JSON.stringify(raw)}`);
  return n;
}

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `512m`, `2g`, or bytes. */
function memoryOf(env: NodeJS.ProcessEnv): number | null {
  const raw = env.HODEI_STAGE_MEMORY;
  if (!raw) return null;
  const m = /^(\d+)([kmg]?)i?b?$/i.exec(raw.trim());
  const unit = UNITS[(m?.[2] ?? "").toLowerCase()];
  if (!m?.[1] || unit === undefined || Number(m[1]) === 0) throw new ConfigError("HODEI_STAGE_MEMORY", `expected a size like 512m or 2g, got ${JSON.stringify(raw)}`);
  const bytes = Number(m[1]) * unit;
  if (bytes < 6 * 1024 ** 2) throw new ConfigError("HODEI_STAGE_MEMORY", "at least 6m (Docker's minimum)");
  return bytes;
}
