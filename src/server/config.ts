/**
 * Server configuration from the environment (SPEC 3). Every value is checked
 * here, once, so a typo fails at start with the variable's name rather than
 * as a strange error later.
 */
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
  providers: ("local" | "docker" | "kubernetes")[];
  localAgents: number;
  agentToken: string | undefined;
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
    providers: providers as ServerConfig["providers"],
    localAgents: intOf(env, "HODEI_LOCAL_AGENTS", 2, 0, 64),
    agentToken: env.HODEI_AGENT_TOKEN || undefined,
  };
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
