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
  /** The longest wait between tries of a stage check the forge did not take (HODEI_FORGE_REPORT_MAX_BACKOFF_MS). */
  forgeReportMaxBackoffMs: number;
  /** How often the forge outbox is reconciled with the runs' history (HODEI_FORGE_RECONCILE_MS). */
  forgeReconcileMs: number;
  /** Time limits of git processes: fetches from the forge, and commands on a mirror alone. */
  gitTimeouts: { fetchMs: number; localMs: number };
  /** The push reconciler: between passes (0: off), how far back activity counts, repositories a pass. */
  reconcile: { intervalMs: number; windowMs: number; maxRepos: number };
  /** The scheduler of `on.schedule`: the longest wait between passes (0: schedules off). */
  schedules: { pollMs: number };
  /** HODEI_SECRETS_KEY as given (checked here); unset: a key file in dataDir. */
  secretsKey: string | undefined;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Sign-in through the forges (issue 17); no forge configured: reads are open, writes take the admin token. */
  signIn: SignInConfig;
  /** HODEI_CORS_ORIGINS: exact origins allowed to call the API cross-origin; empty: no CORS. */
  corsOrigins: string[];
}

export interface OAuthAppConfig {
  clientId: string;
  clientSecret: string;
  /** Where people sign in (authorize and token endpoints). */
  webUrl: string;
  /** REST base for the user's own calls. */
  apiUrl: string;
}

export interface SignInConfig {
  github: OAuthAppConfig | undefined;
  gitea: OAuthAppConfig | undefined;
  /** HODEI_PUBLIC_READ: anonymous reading of public repositories. */
  publicRead: boolean;
  /** HODEI_ACCESS_CACHE_MS: how long a user's repository listing is trusted for reads. */
  accessCacheMs: number;
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
    forgeReportMaxBackoffMs: intOf(env, "HODEI_FORGE_REPORT_MAX_BACKOFF_MS", 300_000, 100, 86_400_000),
    forgeReconcileMs: intOf(env, "HODEI_FORGE_RECONCILE_MS", 60_000, 100, 86_400_000),
    gitTimeouts: {
      fetchMs: intOf(env, "HODEI_GIT_TIMEOUT_MS", 600_000, 100, 86_400_000),
      localMs: intOf(env, "HODEI_GIT_LOCAL_TIMEOUT_MS", 120_000, 100, 86_400_000),
    },
    reconcile: {
      intervalMs: intOf(env, "HODEI_RECONCILE_INTERVAL_MS", 300_000, 0, 86_400_000),
      windowMs: intOf(env, "HODEI_RECONCILE_WINDOW_MS", 86_400_000, 60_000, 30 * 86_400_000),
      maxRepos: intOf(env, "HODEI_RECONCILE_MAX_REPOS", 20, 1, 10_000),
    },
    schedules: { pollMs: intOf(env, "HODEI_SCHEDULE_POLL_MS", 60_000, 0, 86_400_000) },
    secretsKey: secretsKeyOf(env),
    logLevel: logLevelOf(env),
    signIn: signInOf(env),
    corsOrigins: corsOriginsOf(env),
  };
}

function signInOf(env: NodeJS.ProcessEnv): SignInConfig {
  const github = oauthAppOf(env, "HODEI_GITHUB_OAUTH");
  const gitea = oauthAppOf(env, "HODEI_GITEA_OAUTH");
  if (gitea && !env.HODEI_GITEA_URL) throw new ConfigError("HODEI_GITEA_URL", "required with HODEI_GITEA_OAUTH_CLIENT_ID: the Gitea people sign in with");
  const publicRead = flagOf(env, "HODEI_PUBLIC_READ");
  if (publicRead && !github && !gitea) throw new ConfigError("HODEI_PUBLIC_READ", "needs sign-in configured (HODEI_GITHUB_OAUTH_CLIENT_ID or HODEI_GITEA_OAUTH_CLIENT_ID): without it every read is open anyway");
  const giteaUrl = gitea ? urlOf(env, "HODEI_GITEA_URL", "") : "";
  return {
    github: github && { ...github, webUrl: urlOf(env, "HODEI_GITHUB_URL", "https://github.com"), apiUrl: urlOf(env, "HODEI_GITHUB_API_URL", "https://api.github.com") },
    gitea: gitea && { ...gitea, webUrl: giteaUrl, apiUrl: `${giteaUrl}/api/v1` },
    publicRead,
    accessCacheMs: intOf(env, "HODEI_ACCESS_CACHE_MS", 300_000, 0, 86_400_000),
  };
}

/** `https://ci.example.com, http://localhost:3000`: each must be an origin alone (scheme, host, port), as browsers send it. */
function corsOriginsOf(env: NodeJS.ProcessEnv): string[] {
  const raw = env.HODEI_CORS_ORIGINS ?? "";
  const origins: string[] = [];
  for (const item of raw.split(",").map((s) => s.trim()).filter(Boolean)) {
    let url: URL | undefined;
    try {
      url = new URL(item);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== "https:" && url.protocol !== "http:") || url.origin !== item.replace(/\/$/, "")) {
      throw new ConfigError("HODEI_CORS_ORIGINS", `expected comma-separated origins such as https://ci.example.com (scheme, host and port only; no path, no *), got ${JSON.stringify(item)}`);
    }
    origins.push(url.origin);
  }
  return origins;
}

function oauthAppOf(env: NodeJS.ProcessEnv, prefix: string): { clientId: string; clientSecret: string } | undefined {
  const clientId = env[`${prefix}_CLIENT_ID`];
  const clientSecret = env[`${prefix}_CLIENT_SECRET`];
  if (!clientId && !clientSecret) return undefined;
  if (!clientId) throw new ConfigError(`${prefix}_CLIENT_ID`, `required with ${prefix}_CLIENT_SECRET`);
  if (!clientSecret) throw new ConfigError(`${prefix}_CLIENT_SECRET`, `required with ${prefix}_CLIENT_ID`);
  return { clientId, clientSecret };
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
  // A Gitea used only for signing in needs no token of Hodei's own.
  if (!token && env.HODEI_GITEA_OAUTH_CLIENT_ID) return undefined;
  if (!token) throw new ConfigError("HODEI_GITEA_TOKEN", "required with HODEI_GITEA_URL");
  return { url: urlOf(env, "HODEI_GITEA_URL", url), token };
}
