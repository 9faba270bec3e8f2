/**
 * The composition root: the store, the engine, the agent listener and the
 * providers, wired together. `hodei server` and `hodei run` both start one;
 * they differ only in what they put in front of it.
 */
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { Engine } from "../engine/engine.js";
import { hostname } from "node:os";
import path from "node:path";
import { AgentServer } from "../grpc/agent-server.js";
import { AgentTokens } from "../grpc/agent-tokens.js";
import { issueServerCertificate, loadOrCreateCa } from "../pki/ca.js";
import { loadSecretsKey } from "../secrets/key.js";
import { SecretStore } from "../secrets/secret-store.js";
import { LocalProvider } from "../providers/local.js";
import type { Provider } from "../providers/provider.js";
import { provisionerHooks } from "../providers/hooks.js";
import type { ProviderSettings } from "../providers/provider-settings.js";
import { createProvisioners, type Provisioners } from "../providers/provisioners.js";
import type { AttemptRef } from "../engine/ports.js";
import type { Database } from "../store/database.js";
import { migrate } from "../store/migrate.js";
import { embeddedStoreFailure, openDatabase } from "../store/open.js";
import { waitForStore } from "../store/store-wait.js";
import { RunRepository } from "../store/run-repository.js";
import { storeIdentity } from "../store/store-identity.js";
import { createGitSources, ForgeIntegration, type ForgeSettings } from "../triggers/forge-integration.js";
import { AgentRepository } from "../store/agent-repository.js";
import { ManualTriggers } from "../triggers/manual-trigger.js";
import type { Tracing } from "../observability/tracing.js";
import { nodeIdentity } from "./node-id.js";
import { sweepLeftovers } from "./leftovers.js";
import { ClusterPeers } from "./cluster-peers.js";
import { TrustedCas } from "../grpc/tls.js";

export interface ControlPlaneOptions {
  databaseUrl?: string;
  dataDir: string;
  grpcHost?: string;
  /** 0 picks a free port. */
  grpcPort?: number;
  /** Local agent processes to start; 0 for none. */
  localAgents: number;
  /** A token standalone agents may register with (`hodei agent --token`). */
  agentToken?: string;
  /** HODEI_SECRETS_KEY; unset: the key file in dataDir (see secrets/key.ts). */
  secretsKey?: string;
  /** Extra names (DNS or IP) for the gRPC server's certificate, besides localhost, 127.0.0.1, ::1 and the host name. */
  tlsNames?: readonly string[];
  leaseMs?: number;
  /** How long to wait for a Postgres that does not answer at start (HODEI_STORE_WAIT_MS); default 0, one try. */
  storeWaitMs?: number;
  /**
   * What to do with runs an earlier process left unfinished: `resume` them
   * (the server) or `cancel` them (`hodei run`, whose user is gone).
   */
  unfinishedRuns?: "resume" | "cancel";
  /** The identity runs are owned under (default: from HODEI_DATA_DIR, see node-id.ts). */
  nodeId?: string;
  log?: (message: string) => void;
  /** Webhook processing and forge reporting (`hodei server`); off when absent. */
  forge?: ForgeSettings;
  onAgentOutput?: (agentIndex: number, text: string) => void;
  /** OpenTelemetry spans (observability/tracing.ts): its listener is subscribed before any run resumes. */
  tracing?: Pick<Tracing, "spans" | "listener" | "deliveryHandler">;
  /** Per-attempt providers to enable (docker, kubernetes) and their settings. */
  provisioning?: {
    providers: readonly string[];
    settings: ProviderSettings;
    /** The environment a provisioned agent registers with (HODEI_AGENT_TOKEN, ...); default: the local agents' token. */
    agentCredentials?: (ref: AttemptRef) => Promise<Record<string, string>>;
  };
}

export class ControlPlane {
  private constructor(
    readonly db: Database,
    readonly runs: RunRepository,
    readonly engine: Engine,
    readonly agents: AgentServer,
    readonly grpcPort: number,
    /** The CA agents must trust (PEM): give it to a standalone agent as HODEI_AGENT_CA. */
    readonly caPem: string,
    readonly agentTokens: AgentTokens,
    private readonly providers: Provider[],
    readonly forge: ForgeIntegration | null = null,
    readonly provisioners: Provisioners | null = null,
    /** Runs started by hand from a clone URL (`POST /api/runs`); with `forge` only, whose listener cleans the checkouts. */
    readonly manualTriggers: ManualTriggers | null = null,
  ) {}

  static async start(options: ControlPlaneOptions): Promise<ControlPlane> {
    const log = options.log ?? (() => undefined);
    const db = await openDatabase({ databaseUrl: options.databaseUrl, dataDir: options.dataDir, log });
    if (options.databaseUrl) {
      try {
        await waitForStore(db, options.databaseUrl, { waitMs: options.storeWaitMs ?? 0, log });
      } catch (error) {
        await db.close().catch(() => undefined);
        throw error;
      }
    }
    const providers: Provider[] = [];
    let agents: AgentServer | null = null;
    let engine: Engine | null = null;
    let forge: ForgeIntegration | null = null;
    let provisioners: Provisioners | null = null;
    try {
      const { applied } = await migrate(db);
      if (applied.length > 0) log(`Applied migrations: ${applied.join(", ")}`);
      const owner = await nodeIdentity({ databaseUrl: options.databaseUrl, dataDir: options.dataDir, configured: options.nodeId });
      const runs = new RunRepository(db, { owner, ownershipMs: options.leaseMs });
      const sources = createGitSources(options.dataDir, options.forge?.allowFileRepos ?? false, options.forge?.gitTimeouts);
      const localToken = randomBytes(32).toString("base64url");
      let grpcPort = 0;
      if (options.provisioning) {
        const { settings } = options.provisioning;
        const hooks = provisionerHooks({
          server: () => settings.agentServer ?? `127.0.0.1:${grpcPort}`,
          loadRun: (runId) => runs.load(runId),
          appendLogs: (ref, chunks) => runs.appendLogs(ref, chunks),
          provisioningFailed: (ref, provider, reason) => engine?.provisioningFailed(ref, provider, reason) ?? Promise.resolve(),
          // A one-time bootstrap token per attempt, and the CA the agent checks the server against.
          agentCredentials:
            options.provisioning.agentCredentials ??
            (async (ref) => ({
              HODEI_AGENT_TOKEN: (await agentTokens.issue("bootstrap", { ttlMs: settings.provisionTimeoutMs + 60_000, description: `${ref.runId}/${ref.stageId}#${ref.attempt}` })).token,
              HODEI_AGENT_CA: ca.certPem,
            })),
          log,
        });
        provisioners = await createProvisioners(options.provisioning.providers, settings, hooks, { store: await storeIdentity(db), owner });
      }
      engine = new Engine({ store: runs, log, leaseMs: options.leaseMs, resolveSource: sources.resolve, provisioners: provisioners?.byProvider });
      if (options.tracing) engine.subscribe(options.tracing.listener);
      // The forge reporter listens before any run resumes: results of agents reconnecting at start are reported too.
      if (options.forge) forge = ForgeIntegration.create({ db, engine, sources, settings: options.forge, log, owner, tracing: options.tracing });

      const instance = randomUUID();
      const ca = await loadOrCreateCa(options.dataDir);
      const agentTokens = new AgentTokens(db);
      const tlsNames = ["localhost", "127.0.0.1", "::1", hostname(), ...(options.grpcHost ? [options.grpcHost] : []), ...(options.tlsNames ?? [])];
      const accepted = [localToken, ...(options.agentToken ? [options.agentToken] : [])];
      // Fail-over: peers sharing the store, and their CAs (cluster-peers.ts).
      const trusted = new TrustedCas(ca.certPem);
      const cluster = new ClusterPeers(db, {
        self: () => ({ nodeId: owner, agentAddress: advertisedAgentAddress(options, grpcPort), caCertPem: ca.certPem }),
        ttlMs: options.leaseMs ?? 15_000,
        trusted,
        log,
      });
      agents = new AgentServer({
        engine,
        agents: new AgentRepository(db),
        host: options.grpcHost ?? "127.0.0.1",
        port: options.grpcPort ?? 0,
        leaseMs: options.leaseMs,
        heartbeatIntervalMs: options.leaseMs ? Math.max(100, Math.floor(options.leaseMs / 3)) : undefined,
        verifyRegistrationToken: (token) => accepted.some((t) => safeEqual(t, token)),
        redeemToken: (token) => agentTokens.redeem(token),
        tls: { ca, server: { caPem: ca.certPem, ...issueServerCertificate(ca, tlsNames) }, trusted },
        cluster,
        secrets: new SecretStore(db, await loadSecretsKey({ envKey: options.secretsKey, dataDir: options.dataDir })),
        artifactsDir: path.join(options.dataDir, "artifacts"),
        instance,
      });
      grpcPort = await agents.listen();
      await cluster.start();
      await provisioners?.start();
      // Resumed attempts' leases start to run once agents can reach us (agentsReady below).
      const { resumed } = await engine.start({ agentsReadyLater: true });
      if (resumed.length > 0) {
        if (options.unfinishedRuns === "cancel") {
          log(`Cancelling ${resumed.length} run(s) left unfinished by an earlier process`);
          for (const id of resumed) await engine.cancelRun(id, "interrupted: the process that started it ended");
        } else {
          log(`Resumed ${resumed.length} unfinished run(s)`);
        }
      }
      await sweepLeftovers({ db, dataDir: options.dataDir, log });

      if (options.localAgents > 0) {
        const local = new LocalProvider({
          agents: options.localAgents,
          instance,
          caPem: ca.certPem,
          // Each local agent process gets its own one-time bootstrap token.
          mintToken: async () => (await agentTokens.issue("bootstrap", { ttlMs: 10 * 60_000, description: "local agent" })).token,
          // Without a listener the agents' stderr goes to the server's log, so a lost stage's cause is seen.
          onOutput: options.onAgentOutput ?? ((index, text) => logAgentOutput(log, index, text)),
          onError: log,
        });
        providers.push(local);
        await local.start({ server: `127.0.0.1:${grpcPort}`, token: localToken });
      }
      engine.agentsReady();
      await forge?.start();
      const manualTriggers = forge ? new ManualTriggers({ engine, sources, spans: options.tracing?.spans }) : null;
      return new ControlPlane(db, runs, engine, agents, grpcPort, ca.certPem, agentTokens, providers, forge, provisioners, manualTriggers);
    } catch (error) {
      await forge?.stop();
      await provisioners?.stop();
      for (const p of providers) await p.stop();
      await agents?.close();
      await engine?.stop();
      await db.close();
      // A disk that fills while the embedded store migrates says so, like one too small to open it.
      throw options.databaseUrl ? error : embeddedStoreFailure(error, path.join(path.resolve(options.dataDir), "pg"));
    }
  }

  async stop(): Promise<void> {
    await this.forge?.stop();
    await this.provisioners?.stop();
    for (const p of this.providers) await p.stop();
    await this.agents.close();
    await this.engine.stop();
    await this.db.close();
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** One log line per line a local agent wrote, prefixed with which agent wrote it. */
function logAgentOutput(log: (message: string) => void, index: number, text: string): void {
  for (const line of text.split("\n")) if (line.trim() !== "") log(`local agent ${index}: ${line}`);
}

/** Where this process's agents dial it, as peers announce it: a wildcard listener is announced by host name. */
function advertisedAgentAddress(options: ControlPlaneOptions, grpcPort: number): string {
  if (options.provisioning?.settings.agentServer) return options.provisioning.settings.agentServer;
  const host = options.grpcHost ?? "127.0.0.1";
  return `${host === "0.0.0.0" || host === "::" ? hostname() : host}:${grpcPort}`;
}
