/**
 * Server configuration from the environment (SPEC 3). Every value is checked
 * here, once, so a typo fails at start with the variable's name rather than
 * as a strange error later.
 */
import { readFileSync } from "node:fs";
import { parseSecretsKey, SecretsKeyError } from "../secrets/key.js";
import { loadProviderSettings, type ProviderSettings } from "../providers/provider-settings.js";

export interface ServerConfig {
  databaseUrl: string | undefined;
  dataDir: string;
  host: string;
  port: number;
  grpcPort: number;
  publicUrl: string;
  adminToken: string | undefined;
  githubWebhookSecret: string | undefined;
  giteaWebhookSecret: string | undefined;
  /** Older webhook secrets still accepted while rotating (`..._WEBHOOK_SECRET_PREVIOUS`, comma-separated). */
  githubWebhookPreviousSecrets: string[];
  giteaWebhookPreviousSecrets: string[];
  githubApiUrl: string;
  githubApp: { appId: number; privateKey: string } | undefined;
  githubToken: string | undefined;
  gitea: { url: string; token: string } | undefined;
  allowFileRepos: boolean;
  providers: ("local" | "docker" | "kubernetes")[];
  /** Settings of the docker and kubernetes providers (HODEI_DOCKER_*, HODEI_KUBERNETES_*, ...). */
  providerSettings: ProviderSettings;
  localAgents: number;
  agentToken: string | undefined;
  /** How long start-up waits for a Postgres that does not answer yet (with backoff) before it gives up. */
  storeWaitMs: number;
  /** A lease not renewed for this long ends its attempt as lost (SPEC 7: 15 s). */
  leaseMs: number;
  /** A webhook delivery's claim lapses when its server has not renewed it for this long. */
  webhookClaimMs: number;
  /** Time limits of git processes: fetches from the forge, and commands on a mirror alone. */
  gitTimeouts: { fetchMs: number; localMs: number };
  /** HODEI_SECRETS_KEY as given (checked here); unset: a key file in dataDir. */
  secretsKey: string | undefined;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`${variable}: ${detail}`);
    this.name = "ConfigError";
  }
}

export function loadServerConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const host = env.HODEI_HOST || "127.0.0.1";
  const port = portOf(env, "HODEI_PORT", 8080);
  const providers = (env.HODEI_PROVIDERS || "local").split(",").map((p) => p.trim());
  for (const p of providers) {
    if (p !== "local" && p !== "docker" && p !== "kubernetes") {
      throw new ConfigError("HODEI_PROVIDERS", `unknown provider ${JSON.stringify(p)} (local, docker, kubernetes)`);
    }
  }
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.HODEI_DATA_DIR || "./.hodei-data",
    host,
    port,
    grpcPort: portOf(env, "HODEI_GRPC_PORT", 9090),
    publicUrl: (env.HODEI_PUBLIC_URL || `http://${host.includes(":") ? `[${host}]` : host}:${port}`).replace(/\/+$/, ""),
    adminToken: env.HODEI_ADMIN_TOKEN || undefined,
    githubWebhookSecret: env.HODEI_GITHUB_WEBHOOK_SECRET || undefined,
    giteaWebhookSecret: env.HODEI_GITEA_WEBHOOK_SECRET || undefined,
    githubWebhookPreviousSecrets: listOf(env.HODEI_GITHUB_WEBHOOK_SECRET_PREVIOUS),
    giteaWebhookPreviousSecrets: listOf(env.HODEI_GITEA_WEBHOOK_SECRET_PREVIOUS),
    githubApiUrl: urlOf(env, "HODEI_GITHUB_API_URL", "https://api.github.com"),
    githubApp: githubAppOf(env),
    githubToken: env.HODEI_GITHUB_TOKEN || undefined,
    gitea: giteaOf(env),
    allowFileRepos: flagOf(env, "HODEI_ALLOW_FILE_REPOS"),
    providers: providers as ServerConfig["providers"],
    providerSettings: loadProviderSettings(env),
    localAgents: intOf(env, "HODEI_LOCAL_AGENTS", 2, 0, 64),
    agentToken: env.HODEI_AGENT_TOKEN || undefined,
    storeWaitMs: intOf(env, "HODEI_STORE_WAIT_MS", 60_000, 0, 86_400_000),
    leaseMs: intOf(env, "HODEI_LEASE_MS", 15_000, 300, 3_600_000),
    webhookClaimMs: intOf(env, "HODEI_WEBHOOK_CLAIM_MS", 60_000, 300, 3_600_000),
    gitTimeouts: {
      fetchMs: intOf(env, "HODEI_GIT_TIMEOUT_MS", 600_000, 100, 86_400_000),
      localMs: intOf(env, "HODEI_GIT_LOCAL_TIMEOUT_MS", 120_000, 100, 86_400_000),
    },
    secretsKey: secretsKeyOf(env),
    logLevel: logLevelOf(env),
  };
}

function secretsKeyOf(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.HODEI_SECRETS_KEY;
  if (!raw) return undefined;
  try {
    parseSecretsKey(raw, "HODEI_SECRETS_KEY");
  } catch (error) {
    if (error instanceof SecretsKeyError) throw new ConfigError("HODEI_SECRETS_KEY", "expected 32 bytes as 64 hex digits or base64");
    throw error;
  }
  return raw;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

function logLevelOf(env: NodeJS.ProcessEnv): ServerConfig["logLevel"] {
  const raw = env.HODEI_LOG_LEVEL || "info";
  const level = LOG_LEVELS.find((l) => l === raw);
  if (!level) throw new ConfigError("HODEI_LOG_LEVEL", `expected one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(raw)}`);
  return level;
}

function portOf(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  return intOf(env, name, fallback, 0, 65535);
}

function intOf(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `expected an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

function listOf(raw: string | undefined): string[] {
  return (raw ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

function urlOf(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const raw = env[name] || fallback;
  try {
    const url = new URL(raw);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new Error("scheme");
  } catch {
    throw new ConfigError(name, `expected an http(s) URL, got ${JSON.stringify(raw)}`);
  }
  return raw.replace(/\/+$/, "");
}

function flagOf(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = (env[name] ?? "").toLowerCase();
  if (raw === "" || raw === "0" || raw === "false" || raw === "no") return false;
  if (raw === "1" || raw === "true" || raw === "yes") return true;
  throw new ConfigError(name, `expected 1 or 0, got ${JSON.stringify(env[name])}`);
}

function githubAppOf(env: NodeJS.ProcessEnv): { appId: number; privateKey: string } | undefined {
  const id = env.HODEI_GITHUB_APP_ID;
  let key = env.HODEI_GITHUB_APP_PRIVATE_KEY;
  const keyFile = env.HODEI_GITHUB_APP_PRIVATE_KEY_FILE;
  if (!key && keyFile) {
    try {
      key = readFileSync(keyFile, "utf8");
    } catch (error) {
      throw new ConfigError("HODEI_GITHUB_APP_PRIVATE_KEY_FILE", `cannot read ${keyFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  if (!id && !key) return undefined;
  if (!id) throw new ConfigError("HODEI_GITHUB_APP_ID", "required with HODEI_GITHUB_APP_PRIVATE_KEY");
  if (!key) throw new ConfigError("HODEI_GITHUB_APP_PRIVATE_KEY", "required with HODEI_GITHUB_APP_ID (or set HODEI_GITHUB_APP_PRIVATE_KEY_FILE)");
  const appId = Number(id);
  if (!Number.isInteger(appId) || appId <= 0) throw new ConfigError("HODEI_GITHUB_APP_ID", `expected a positive integer, got ${JSON.stringify(id)}`);
  if (!key.includes("PRIVATE KEY-----")) throw new ConfigError("HODEI_GITHUB_APP_PRIVATE_KEY", "expected a PEM private key");
  return { appId, privateKey: key.replace(/\\n/g, "\n") };
}

function giteaOf(env: NodeJS.ProcessEnv): { url: string; token: string } | undefined {
  const url = env.HODEI_GITEA_URL;
  const token = env.HODEI_GITEA_TOKEN;
  if (!url && !token) return undefined;
  if (!url) throw new ConfigError("HODEI_GITEA_URL", "required with HODEI_GITEA_TOKEN");
  if (!token) throw new ConfigError("HODEI_GITEA_TOKEN", "required with HODEI_GITEA_URL");
  return { url: urlOf(env, "HODEI_GITEA_URL", url), token };
}
