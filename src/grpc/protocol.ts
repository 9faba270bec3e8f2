/**
 * Loads the agent protocol (proto/hodei/agent/v1/agent.proto) and types its
 * messages. Field names are camelCase as proto-loader presents them.
 */
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/**
 * The version this agent speaks. Bumped when a change would break an agent or
 * server of the previous version. 3: an attempt's result may carry its last
 * log chunks and imply its start (an agent of 3 refused by a server of 2 is
 * told so at once).
 */
export const PROTOCOL_VERSION = "3";
/** The versions this server speaks: what an agent of 2 sends is still valid in 3. */
export const SERVER_PROTOCOL_VERSIONS: readonly string[] = ["2", "3"];
export const PROTOCOL_METADATA_KEY = "hodei-protocol";
export const AGENT_ID_METADATA_KEY = "hodei-agent-id";
export const SESSION_METADATA_KEY = "hodei-session";

const protoPath = fileURLToPath(new URL("../../proto/hodei/agent/v1/agent.proto", import.meta.url));

export interface AttemptRefMessage {
  runId: string;
  stageId: string;
  attempt: number;
}

export interface RegisterRequest {
  token: string;
  hostname: string;
  labels: Record<string, string>;
  capacity: number;
  csrPem: string;
}

export interface RegisterResponse {
  agentId: string;
  sessionSecret: string;
  heartbeatIntervalMs: number;
  leaseMs: number;
  certificatePem: string;
}

export interface AgentMessage {
  heartbeat?: { running: AttemptRefMessage[] } | null;
  started?: { ref: AttemptRefMessage } | null;
  logs?: { ref: AttemptRefMessage; chunks: { seq: number; data: string }[] } | null;
  finished?: { ref: AttemptRefMessage; outcome: string; exitCode: number; reason: string; logs?: { seq: number; data: string }[] } | null;
  body?: "heartbeat" | "started" | "logs" | "finished";
}

export interface AssignmentMessage {
  ref: AttemptRefMessage;
  commands: string[];
  env: Record<string, string>;
  workdir: string;
  timeoutSeconds: number;
  source: { directory: string } | null;
  stageName: string;
  secrets: Record<string, string>;
  artifactsFrom: string[];
  artifactPatterns: string[];
  setupError: string;
}

/** Another control plane sharing the store: where to dial it, and its CA. */
export interface PeerMessage {
  address: string;
  caPem: string;
}

export interface DataChunk {
  data: Buffer;
}

export interface ArtifactUpload {
  ref?: AttemptRefMessage | null;
  data?: Buffer | null;
  body?: "ref" | "data";
}

export interface ServerMessage {
  assignment?: AssignmentMessage | null;
  cancel?: { ref: AttemptRefMessage; reason: string } | null;
  ack?: { ref: AttemptRefMessage; logsThrough: number; finished: boolean; refused: string } | null;
  peers?: { peers: PeerMessage[] } | null;
  body?: "assignment" | "cancel" | "ack" | "peers";
}

export interface AgentServiceClient extends grpc.Client {
  register(
    request: RegisterRequest,
    metadata: grpc.Metadata,
    callback: (error: grpc.ServiceError | null, response?: RegisterResponse) => void,
  ): grpc.ClientUnaryCall;
  connect(metadata: grpc.Metadata): grpc.ClientDuplexStream<AgentMessage, ServerMessage>;
  fetchSource(request: { ref: AttemptRefMessage }, metadata: grpc.Metadata): grpc.ClientReadableStream<DataChunk>;
  fetchArtifact(request: { ref: AttemptRefMessage; fromStageId: string }, metadata: grpc.Metadata): grpc.ClientReadableStream<DataChunk>;
  uploadArtifact(
    metadata: grpc.Metadata,
    callback: (error: grpc.ServiceError | null, response?: { bytes: number }) => void,
  ): grpc.ClientWritableStream<ArtifactUpload>;
}

interface LoadedPackage {
  hodei: { agent: { v1: { AgentService: grpc.ServiceClientConstructor } } };
}

let loaded: LoadedPackage | undefined;

function load(): LoadedPackage {
  loaded ??= grpc.loadPackageDefinition(
    protoLoader.loadSync(protoPath, { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true }),
  ) as unknown as LoadedPackage;
  return loaded;
}

export function agentServiceDefinition(): grpc.ServiceDefinition {
  return load().hodei.agent.v1.AgentService.service;
}

export function agentServiceClient(address: string, credentials: grpc.ChannelCredentials, extra: grpc.ChannelOptions = {}): AgentServiceClient {
  const Client = load().hodei.agent.v1.AgentService;
  return new Client(address, credentials, {
    ...extra,
    "grpc.keepalive_time_ms": 10_000,
    // Generous: on a loaded machine a server can be slow to answer a ping, and
    // a connection declared dead too early costs the attempts in flight on it.
    "grpc.keepalive_timeout_ms": 20_000,
    "grpc.keepalive_permit_without_calls": 1,
  }) as unknown as AgentServiceClient;
}

export function protocolMetadata(extra: Record<string, string> = {}): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(PROTOCOL_METADATA_KEY, PROTOCOL_VERSION);
  for (const [k, v] of Object.entries(extra)) md.set(k, v);
  return md;
}

/** File data travels in messages of at most this size, far below gRPC's 4 MiB default limit. */
export const CHUNK_BYTES = 64 * 1024;

export function* pieces(chunk: Buffer): Generator<Buffer> {
  for (let at = 0; at < chunk.length; at += CHUNK_BYTES) yield chunk.subarray(at, at + CHUNK_BYTES);
}
