/**
 * The control plane's side of the agent protocol: registration, and one
 * stream per connected agent that carries assignments down and reports up.
 * Everything an agent reports is checked against the engine's leases: an
 * agent can only speak for attempts leased to it.
 */
import { storeUnavailableReason } from "../store/store-unavailable.js";
import * as grpc from "@grpc/grpc-js";
import type { Engine } from "../engine/engine.js";
import { attemptKey } from "../engine/agent-pool.js";
import type { AgentLink, Assignment, AttemptRef } from "../engine/ports.js";
import type { CertificateAuthority } from "../pki/ca.js";
import type { AttemptOutcome } from "../saga/events.js";
import { agentLogBytes, agentLogMessages } from "../observability/metrics.js";
import { identify, type AgentDirectory, type RegisteredAgent } from "./agent-identity.js";
import { ArtifactStore } from "./artifact-store.js";
import { fail, fileServiceHandlers, type AssignedAttempt, type CallIdentity, type Refusal } from "./file-service.js";
import {
  agentServiceDefinition,
  type AgentMessage,
  type AttemptRefMessage,
  type PeerMessage,
  type RegisterRequest,
  type RegisterResponse,
  type ServerMessage,
} from "./protocol.js";
import { register } from "./registration.js";
import { agentServerCredentials, type ServerTls, type TrustedCas } from "./tls.js";
import type { TokenRefusal } from "./agent-tokens.js";

export type { AgentDirectory, RegisteredAgent } from "./agent-identity.js";

/** Where agents may go when this server is gone (src/server/cluster-peers.ts). */
export interface PeerSource {
  readonly peers: readonly PeerMessage[];
  onChange(listener: (peers: readonly PeerMessage[]) => void): void;
  stop(): void;
}

/** Reveals a repository's secrets for an assignment (src/secrets/secret-store.ts). */
export interface SecretSource {
  reveal(repo: string, names: readonly string[]): Promise<Record<string, string>>;
}

export interface AgentServerOptions {
  engine: Engine;
  agents: AgentDirectory;
  /** Operator-configured registration tokens (HODEI_AGENT_TOKEN): true if `token` is one. */
  verifyRegistrationToken: (token: string) => boolean;
  /** Tokens kept in the store (bootstrap, registration). */
  redeemToken?: (token: string) => Promise<{ ok: true } | { ok: false; why: TokenRefusal }>;
  /** mTLS: the CA that signs agents' certificates and the server's own certificate. Without it, plaintext (protocol tests only). */
  tls?: { ca: CertificateAuthority; server: ServerTls; trusted?: TrustedCas };
  /** The other control planes sharing the store, told to every agent (fail-over); stopped with the server. */
  cluster?: PeerSource;
  secrets?: SecretSource;
  /** Where artifacts are stored (HODEI_DATA_DIR/artifacts). */
  artifactsDir: string;
  maxArtifactBytes?: number;
  host?: string;
  port?: number;
  heartbeatIntervalMs?: number;
  leaseMs?: number;
  /**
   * Local agents carry the `hodei.instance` label of the process that started
   * them. One from an earlier incarnation (orphaned by a crash) may reconnect
   * and finish what it runs, but gets no new work.
   */
  instance?: string;
  onError?: (error: unknown, context: string) => void;
}

const OUTCOMES = new Set<AttemptOutcome>(["success", "failure", "timed_out", "cancelled"]);

export class AgentServer {
  private readonly server = new grpc.Server({ "grpc.keepalive_permit_without_calls": 1 });
  private readonly streams = new Map<string, grpc.ServerDuplexStream<AgentMessage, ServerMessage>>();
  private readonly heartbeatIntervalMs: number;
  private readonly leaseMs: number;
  private readonly onError: (error: unknown, context: string) => void;
  /** Assignments sent and not yet over, to serve their files. */
  private readonly assigned = new Map<string, AssignedAttempt>();
  readonly artifacts: ArtifactStore;
  boundPort = 0;

  constructor(private readonly options: AgentServerOptions) {
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 5_000;
    this.leaseMs = options.leaseMs ?? 15_000;
    this.onError =
      options.onError ??
      ((error, context) => {
        // An unavailable store is said in a line (the engine says what waits for it), not a stack per call.
        const unavailable = storeUnavailableReason(error);
        if (unavailable) console.error(`hodei agent server: ${context}: the store is unavailable (${unavailable}); the agent retries`);
        else console.error(`hodei agent server: ${context}:`, error);
      });
    this.artifacts = new ArtifactStore(options.artifactsDir, options.maxArtifactBytes);
    const files = fileServiceHandlers({
      authenticate: (call) => this.identify(call),
      holds: (agentId, ref) => options.engine.holds(agentId, ref),
      // After a restart the map is empty while agents still run their attempts:
      // rebuild the entry from the engine's lease and the run's state.
      assigned: async (ref) => this.assigned.get(attemptKey(ref)) ?? (await this.reassigned(ref)),
      artifacts: this.artifacts,
      onError: this.onError,
    });
    this.server.addService(agentServiceDefinition(), {
      register: this.register.bind(this),
      connect: this.connect.bind(this),
      fetchSource: files.fetchSource,
      fetchArtifact: files.fetchArtifact,
      uploadArtifact: files.uploadArtifact,
    });
  }

  async listen(): Promise<number> {
    const address = `${this.options.host ?? "127.0.0.1"}:${this.options.port ?? 0}`;
    const tls = this.options.tls;
    const credentials = tls ? agentServerCredentials(tls.server, tls.trusted) : grpc.ServerCredentials.createInsecure();
    this.options.cluster?.onChange((peers) => {
      for (const stream of this.streams.values()) writeMessage(stream, { peers: { peers: [...peers] } });
    });
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port))),
    );
    return this.boundPort;
  }

  async close(): Promise<void> {
    this.options.cluster?.stop();
    for (const stream of this.streams.values()) stream.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2_000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private register(
    call: grpc.ServerUnaryCall<RegisterRequest, RegisterResponse>,
    callback: grpc.sendUnaryData<RegisterResponse>,
  ): void {
    const options = {
      agents: this.options.agents,
      ca: this.options.tls?.ca ?? null,
      staticToken: this.options.verifyRegistrationToken,
      redeem: this.options.redeemToken ?? null,
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      leaseMs: this.leaseMs,
    };
    register(options, call).then(
      (result) => ("code" in result ? callback(result) : callback(null, result)),
      (error: unknown) => {
        this.onError(error, "registering an agent");
        callback({ code: grpc.status.UNAVAILABLE, details: "the control plane could not register the agent; retry" });
      },
    );
  }

  private identify(call: CallIdentity): Promise<RegisteredAgent | Refusal> {
    return identify(call, this.options.agents, this.options.tls !== undefined);
  }

  private connect(call: grpc.ServerDuplexStream<AgentMessage, ServerMessage>): void {
    this.identify(call).then(
      (agent) => {
        if ("id" in agent) return this.attach(agent, call);
        fail(call, agent);
      },
      (error: unknown) => {
        this.onError(error, "authenticating an agent");
        fail(call, { code: grpc.status.UNAVAILABLE, details: "the control plane is unavailable; retry" });
      },
    );
  }

  private attach(agent: RegisteredAgent, call: grpc.ServerDuplexStream<AgentMessage, ServerMessage>): void {
    // A second stream for the same agent replaces the first.
    this.streams.get(agent.id)?.end();
    this.streams.set(agent.id, call);
    const engine = this.options.engine;
    const link: AgentLink = {
      id: agent.id,
      labels: agent.labels,
      capacity: isOrphan(agent, this.options.instance) ? 0 : agent.capacity,
      assign: (a) => this.assign(agent.id, call, a),
      cancel: (ref, reason) => void writeMessage(call, { cancel: { ref: refMessage(ref), reason } }),
    };
    engine.agentConnected(link);
    const peers = this.options.cluster?.peers ?? [];
    if (peers.length > 0) writeMessage(call, { peers: { peers: [...peers] } });

    // Messages of one agent are handled strictly in order: logs before the result.
    let chain = Promise.resolve();
    call.on("data", (message: AgentMessage) => {
      chain = chain
        .then(() => this.handle(agent.id, call, message))
        .catch((error: unknown) => this.onError(error, `message from agent ${agent.id}`));
    });
    const gone = () => {
      if (this.streams.get(agent.id) !== call) return;
      this.streams.delete(agent.id);
      engine.agentDisconnected(agent.id);
    };
    call.on("end", () => {
      gone();
      call.end();
    });
    call.on("error", gone);
    call.on("close", gone);
  }

  private async handle(
    agentId: string,
    call: grpc.ServerDuplexStream<AgentMessage, ServerMessage>,
    message: AgentMessage,
  ): Promise<void> {
    const engine = this.options.engine;
    if (message.heartbeat) {
      engine.heartbeat(agentId, message.heartbeat.running.map(attemptRef));
      return;
    }
    if (message.started) {
      const ref = attemptRef(message.started.ref);
      // Not awaited: the engine stores reports of a run in the order they are
      // given, so a result that follows at once joins the same append.
      void engine.attemptStarted(agentId, ref).then(
        (ok) => ok || writeMessage(call, { ack: refusedAck(ref) }),
        (error: unknown) => this.onError(error, `start reported by agent ${agentId}`),
      );
      return;
    }
    if (message.logs) {
      const ref = attemptRef(message.logs.ref);
      const chunks = message.logs.chunks;
      countLogs(chunks);
      const ok = await engine.attemptLogs(agentId, ref, chunks);
      const through = chunks.reduce((max, c) => Math.max(max, c.seq), 0);
      writeMessage(call, { ack: ok ? { ref: refMessage(ref), logsThrough: through, finished: false, refused: "" } : refusedAck(ref) });
      return;
    }
    if (message.finished) {
      const ref = attemptRef(message.finished.ref);
      const outcome = message.finished.outcome as AttemptOutcome;
      if (!OUTCOMES.has(outcome)) {
        writeMessage(call, { ack: { ...refusedAck(ref), refused: `unknown outcome ${outcome}` } });
        return;
      }
      // Protocol 3: the attempt's last chunks come with its result, stored with it.
      const chunks = message.finished.logs ?? [];
      if (chunks.length > 0) countLogs(chunks);
      const through = chunks.reduce((max, c) => Math.max(max, c.seq), 0);
      const ok = await engine.attemptFinished(
        agentId,
        ref,
        {
          outcome,
          exitCode: message.finished.exitCode < 0 ? null : message.finished.exitCode,
          reason: message.finished.reason || null,
        },
        chunks,
      );
      if (ok) this.forget(ref);
      writeMessage(call, { ack: ok ? { ref: refMessage(ref), logsThrough: through, finished: true, refused: "" } : refusedAck(ref) });
    }
  }

  /**
   * Sends an assignment once its secrets are looked up and the artifacts it
   * needs are known. A lookup that fails becomes the attempt's failure.
   */
  private assign(agentId: string, call: grpc.ServerDuplexStream<AgentMessage, ServerMessage>, a: Assignment): boolean {
    if (call.destroyed || call.writableEnded) return false;
    void this.prepare(agentId, a).then((assignment) => writeMessage(call, { assignment }));
    return true;
  }

  private async prepare(agentId: string, a: Assignment): Promise<NonNullable<ServerMessage["assignment"]>> {
    const message = assignmentMessage(a);
    try {
      const from = [];
      for (const need of a.stage.needs) if (await this.artifacts.exists(a.runId, need)) from.push(need);
      message.artifactsFrom = from;
      this.assigned.set(attemptKey(a), { agentId, sourceDir: a.source.path, artifactsFrom: new Set(from) });
      if (a.stage.secrets.length > 0) {
        const repo = secretRepoOf(a.repo);
        if (!this.options.secrets) throw new Error(`the stage needs secrets (${a.stage.secrets.join(", ")}) and this server has no secret store`);
        const found = await this.options.secrets.reveal(repo, a.stage.secrets);
        const missing = a.stage.secrets.filter((n) => !(n in found));
        if (missing.length > 0) throw new Error(`secret ${missing.join(", ")} is not set for ${repo} (hodei secret set ${repo} ${missing[0]})`);
        message.secrets = found;
      }
    } catch (error) {
      // Only the names are in the message, never a value.
      message.setupError = (error as Error).message;
      message.secrets = {};
    }
    return message;
  }

  private async reassigned(ref: AttemptRef): Promise<AssignedAttempt | undefined> {
    const current = await this.options.engine.currentAssignment(ref);
    if (!current) return undefined;
    await this.prepare(current.agentId, current.assignment);
    return this.assigned.get(attemptKey(ref));
  }

  /** Forgets the files of attempts that are over. */
  private forget(ref: AttemptRef): void {
    this.assigned.delete(attemptKey(ref));
  }
}

export const INSTANCE_LABEL = "hodei.instance";

function isOrphan(agent: RegisteredAgent, instance: string | undefined): boolean {
  const startedBy = agent.labels[INSTANCE_LABEL];
  return startedBy !== undefined && startedBy !== instance;
}

function writeMessage(call: grpc.ServerDuplexStream<AgentMessage, ServerMessage>, message: ServerMessage): boolean {
  if (call.destroyed || call.writableEnded) return false;
  call.write(message);
  return true;
}

/**
 * Secrets are stored under `owner/name` (SPEC 3); a run of a clone URL
 * without a forge is recorded by its URL, whose last two path segments name it.
 */
export function secretRepoOf(repo: string): string {
  if (/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(repo)) return repo;
  const parts = repo.replace(/\.git\/?$/, "").split(/[/:]/).filter(Boolean);
  return parts.slice(-2).join("/");
}

function attemptRef(m: AttemptRefMessage): AttemptRef {
  return { runId: m.runId, stageId: m.stageId, attempt: m.attempt };
}

function refMessage(ref: AttemptRef): AttemptRefMessage {
  return { runId: ref.runId, stageId: ref.stageId, attempt: ref.attempt };
}

function refusedAck(ref: AttemptRef): NonNullable<ServerMessage["ack"]> {
  return { ref: refMessage(ref), logsThrough: 0, finished: false, refused: "attempt is not leased to this agent" };
}

function assignmentMessage(a: Assignment): NonNullable<ServerMessage["assignment"]> {
  return {
    ref: refMessage(a),
    commands: a.stage.commands,
    env: a.env,
    workdir: a.stage.workdir,
    timeoutSeconds: a.stage.timeoutSeconds,
    source: null,
    stageName: a.stage.name,
    secrets: {},
    artifactsFrom: [],
    artifactPatterns: a.stage.artifacts,
    setupError: "",
  };
}

/** A message that carried log chunks, for the log metrics. */
function countLogs(chunks: readonly { data: string }[]): void {
  agentLogMessages.inc();
  agentLogBytes.inc(chunks.reduce((n, c) => n + Buffer.byteLength(c.data), 0));
}
