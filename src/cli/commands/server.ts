/** `hodei server`: the control plane, configured by the environment (SPEC 3). */
import path from "node:path";
import { accessSettingsFrom } from "../../access/access-setup.js";
import { systemClock } from "../../engine/system-clock.js";
import { buildHttpApp } from "../../http/app.js";
import { createLogger, runEventLogger } from "../../observability/logger.js";
import { createMetrics } from "../../observability/metrics.js";
import { startTracing, tracingConfigFromEnv } from "../../observability/tracing.js";
import { loadSecretsKey } from "../../secrets/key.js";
import { SecretStore } from "../../secrets/secret-store.js";
import { loadServerConfig, type ServerConfig } from "../../server/config.js";
import type { ForgeSettings } from "../../triggers/forge-integration.js";
import { ControlPlane } from "../../server/control-plane.js";
import { StoreWriteProbe } from "../../store/write-probe.js";

export async function serverCommand(options: { stdout: NodeJS.WritableStream; signal: AbortSignal }): Promise<number> {
  const config = loadServerConfig();
  const say = (m: string) => options.stdout.write(`${m}\n`);

  // Loaded only when an OTLP endpoint is configured.
  const tracing = await startTracing(process.env);
  if (tracing) say(`tracing: OpenTelemetry spans to ${tracingConfigFromEnv(process.env)?.endpoint ?? "?"}`);
  const control = await ControlPlane.start({
    tracing: tracing ?? undefined,
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    grpcHost: config.host,
    grpcPort: config.grpcPort,
    localAgents: config.providers.includes("local") ? config.localAgents : 0,
    agentToken: config.agentToken,
    secretsKey: config.secretsKey,
    leaseMs: config.leaseMs,
    storeWaitMs: config.storeWaitMs,
    log: say,
    forge: forgeSettings(config),
    provisioning: { providers: config.providers, settings: config.providerSettings },
  });
  const logger = createLogger({ level: config.logLevel });
  const metrics = createMetrics({ connectedAgents: () => control.engine.connectedAgents, processMetrics: true });
  const unsubscribe = [control.engine.subscribe(metrics.listener), control.engine.subscribe(runEventLogger(logger))];
  let app;
  try {
    const key = await loadSecretsKey({ envKey: config.secretsKey, dataDir: config.dataDir });
    app = buildHttpApp({
      db: control.db,
      webhookSecrets: {
      github: config.githubWebhookSecret && [config.githubWebhookSecret, ...config.githubWebhookPreviousSecrets],
      gitea: config.giteaWebhookSecret && [config.giteaWebhookSecret, ...config.giteaWebhookPreviousSecrets],
    },
      engine: control.engine,
      adminToken: config.adminToken,
      secrets: new SecretStore(control.db, key),
      triggerManual: control.manualTriggers?.trigger,
      access: accessSettingsFrom(config, control.db, key),
      corsOrigins: config.corsOrigins,
      metrics,
      logger,
      storeHealth: new StoreWriteProbe({
        db: control.db,
        clock: systemClock,
        dataDir: control.db.kind === "pglite" ? path.resolve(config.dataDir) : undefined,
        outage: () => control.engine.storeOutage,
      }),
    });
    tracing?.instrumentHttp(app);
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await control.stop();
    await tracing?.shutdown();
    throw error;
  }
  // With HODEI_PORT=0 the OS picked the port: show the one in use.
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const base = process.env.HODEI_PUBLIC_URL ? config.publicUrl : config.publicUrl.replace(/:\d+$/, `:${port}`);
  say(`hodei server ready`);
  if (!config.signIn.github && !config.signIn.gitea) {
    say("  warning: no sign-in configured (HODEI_GITHUB_OAUTH_CLIENT_ID, HODEI_GITEA_OAUTH_CLIENT_ID): anyone who reaches this port reads every run, log and stream");
  }
  say(`  dashboard and API   ${base}/  (${base}/api/runs)`);
  say(`  GitHub webhooks     ${base}/webhooks/github${config.githubWebhookSecret ? "" : "  (off: set HODEI_GITHUB_WEBHOOK_SECRET)"}`);
  say(`  Gitea webhooks      ${base}/webhooks/gitea${config.giteaWebhookSecret ? "" : "  (off: set HODEI_GITEA_WEBHOOK_SECRET)"}`);
  say(`  agents (gRPC)       ${config.host}:${control.grpcPort}`);
  say(`  health              ${base}/healthz`);

  await new Promise<void>((resolve) => options.signal.addEventListener("abort", () => resolve(), { once: true }));
  say("shutting down");
  for (const u of unsubscribe) u();
  await app.close();
  await control.stop();
  await tracing?.shutdown();
  return 0;
}

function forgeSettings(config: ServerConfig): ForgeSettings {
  const app = config.githubApp;
  const github = app
    ? { apiUrl: config.githubApiUrl, auth: { kind: "app" as const, appId: app.appId, privateKey: app.privateKey } }
    : config.githubToken
      ? { apiUrl: config.githubApiUrl, auth: { kind: "token" as const, token: config.githubToken } }
      : undefined;
  return {
    publicUrl: config.publicUrl,
    allowFileRepos: config.allowFileRepos,
    webhookClaimMs: config.webhookClaimMs,
    reportBackoff: { baseMs: Math.min(1000, config.forgeReportMaxBackoffMs), maxMs: config.forgeReportMaxBackoffMs },
    reconcileMs: config.forgeReconcileMs,
    gitTimeouts: config.gitTimeouts,
    reconcile: config.reconcile,
    schedules: config.schedules,
    github,
    gitea: config.gitea,
  };
}
