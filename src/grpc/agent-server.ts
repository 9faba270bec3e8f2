/**
 * The control plane's side of the agent protocol: registration, and one
 * stream per connected agent that carries assignments down and reports up.
 * Everything an agent reports is checked against the engine's leases: an
 * agent can only speak for attempts leased to it.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { Engine } from "../engine/engine.js";
import type { AgentLink, Assignment, AttemptRef } from "../engine/ports.js";
import type { AttemptOutcome } from "../saga/events.js";
import {
  AGENT_ID_METADATA_KEY,
  PROTOCOL_METADATA_KEY,
  PROTOCOL_VERSION,
  SESSION_METADATA_KEY,
  agentServiceDefinition,
  type AgentMessage,
  type AttemptRefMessage,
  type RegisterRequest,
  type RegisterResponse,
  type ServerMessage,
} from "./protocol.js";

/** Where registered agents are kept (the store), so they outlive a restart. */
export interface AgentDirectory {
  insert(agent: RegisteredAgent & { hostname: string }, at: Date): Promise<void>;
  find(id: string): Promise<RegisteredAgent | null>;
}

export interface AgentServerOptions {
  engine: Engine;
  agents: AgentDirectory;
  /** Returns true if `token` may register an agent. */
  verifyRegistrationToken: (token: string) => boolean;
  host?: string;
  port?: number;
  heartbeatIntervalMs?: number;
  leaseMs?: number;
  credentials?: grpc.ServerCredentials;
  /**
   * Local agents carry the `hodei.instance` label of the process that started
   * them. One from an earlier incarnation (orphaned by a crash) may reconnect
   * and finish what it runs, but gets no new work.
   */
  instance?: string;
  onError?: (error: unknown, context: string) => void;
}

export interface RegisteredAgent {
  id: string;
  secretHash: Buffer;
  labels: Record<string, string>;
  capacity: number;
}

const OUTCOMES = new Set<AttemptOutcome>(["success", "failure", "timed_out", "cancelled"]);

export class AgentServer {
  private readonly server = new grpc.Server({ "grpc.keepalive_permit_without_calls": 1 });
  private readonly streams = new Map<string, grpc.ServerDuplexStream<AgentMessage, ServerMessage>>();
  private readonly heartbeatIntervalMs: number;
  private readonly leaseMs: number;
  private readonly onError: (error: unknown, context: string) => void;
  boundPort = 0;

  constructor(private readonly options: AgentServerOptions) {
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 5_000;
    this.leaseMs = options.leaseMs ?? 15_000;
    this.onError = options.onError ?? ((error, context) => console.error(`hodei agent server: ${context}:`, error));
    this.server.addService(agentServiceDefinition(), {
      register: this.register.bind(this),
      connect: this.connect.bind(this),
    });
  }

  async listen(): Promise<number> {
    const address = `${this.options.host ?? "127.0.0.1"}:${this.options.port ?? 0}`;
    const credentials = this.options.credentials ?? grpc.ServerCredentials.createInsecure();
    this.boundPort = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port))),
    );
    return this.boundPort;
  }

  async close(): Promise<void> {
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
    const refusal = checkProtocol(call.metadata);
    if (refusal) return callback(refusal);
    const request = call.request;
    if (!this.options.verifyRegistrationToken(request.token)) {
      return callback({ code: grpc.status.UNAUTHENTICATED, details: "registration token refused" });
    }
    const secret = randomBytes(32).toString("base64url");
    const agent: RegisteredAgent = {
      id: randomUUID(),
      secretHash: sha256(secret),
      labels: { provider: "local", ...request.labels },
      capacity: Math.max(1, Math.min(request.capacity || 1, 64)),
    };
    this.options.agents.insert({ ...agent, hostname: request.hostname || "unknown" }, new Date()).then(
      () =>
        callback(null, {
          agentId: agent.id,
          sessionSecret: secret,
          heartbeatIntervalMs: this.heartbeatIntervalMs,
          leaseMs: this.leaseMs,
        }),
      (error: unknown) => {
        this.onError(error, "storing a registration");
        callback({ code: grpc.status.UNAVAILABLE, details: "the control plane could not store the registration; retry" });
      },
    );
  }

  private connect(call: grpc.ServerDuplexStream<AgentMessage, ServerMessage>): void {
    const refusal = checkProtocol(call.metadata);
    if (refusal) {
      call.destroy(Object.assign(new Error(refusal.details), refusal));
      return;
    }
    this.authenticate(call.metadata).then(
      (agent) => {
        if (agent) return this.attach(agent, call);
        call.destroy(Object.assign(new Error("unknown agent or bad session"), { code: grpc.status.UNAUTHENTICATED }));
      },
      (error: unknown) => {
        this.onError(error, "authenticating an agent");
        call.destroy(Object.assign(new Error("the control plane is unavailable; retry"), { code: grpc.status.UNAVAILABLE }));
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
      assign: (a) => writeMessage(call, { assignment: assignmentMessage(a) }),
      cancel: (ref, reason) => void writeMessage(call, { cancel: { ref: refMessage(ref), reason } }),
    };
    engine.agentConnected(link);

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
      engine.heartbeat(agentId);
      return;
    }
    if (message.started) {
      const ref = attemptRef(message.started.ref);
      const ok = await engine.attemptStarted(agentId, ref);
      if (!ok) writeMessage(call, { ack: refusedAck(ref) });
      return;
    }
    if (message.logs) {
      const ref = attemptRef(message.logs.ref);
      const chunks = message.logs.chunks;
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
      const ok = await engine.attemptFinished(agentId, ref, {
        outcome,
        exitCode: message.finished.exitCode < 0 ? null : message.finished.exitCode,
        reason: message.finished.reason || null,
      });
      writeMessage(call, { ack: ok ? { ref: refMessage(ref), logsThrough: 0, finished: true, refused: "" } : refusedAck(ref) });
    }
  }

  private async authenticate(metadata: grpc.Metadata): Promise<RegisteredAgent | null> {
    const id = metadata.get(AGENT_ID_METADATA_KEY)[0];
    const secret = metadata.get(SESSION_METADATA_KEY)[0];
    if (typeof id !== "string" || typeof secret !== "string") return null;
    const agent = await this.options.agents.find(id);
    if (!agent) return null;
    return timingSafeEqual(agent.secretHash, sha256(secret)) ? agent : null;
  }
}

export const INSTANCE_LABEL = "hodei.instance";

function isOrphan(agent: RegisteredAgent, instance: string | undefined): boolean {
  const startedBy = agent.labels[INSTANCE_LABEL];
  return startedBy !== undefined && startedBy !== instance;
}

function checkProtocol(metadata: grpc.Metadata): { code: grpc.status; details: string } | null {
  const version = metadata.get(PROTOCOL_METADATA_KEY)[0];
  if (version === PROTOCOL_VERSION) return null;
  return {
    code: grpc.status.FAILED_PRECONDITION,
    details: `agent protocol ${typeof version === "string" ? version : "(none)"} is not supported: this server speaks protocol ${PROTOCOL_VERSION}; upgrade the agent`,
  };
}

function writeMessage(call: grpc.ServerDuplexStream<AgentMessage, ServerMessage>, message: ServerMessage): boolean {
  if (call.destroyed || call.writableEnded) return false;
  call.write(message);
  return true;
}

function sha256(value: string): Buffer {
  return createHash("sha256").update(value).digest();
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
    source: { directory: a.source.path },
    stageName: a.stage.name,
  };
}
