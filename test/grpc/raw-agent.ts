/**
 * An agent spoken by hand over real gRPC (TLS, then mTLS): registers with a
 * token and opens the stream, so a test can send exactly the messages it
 * means to, in any protocol version.
 */
import * as grpc from "@grpc/grpc-js";
import { createKeyAndCsr } from "../../src/pki/csr.js";
import {
  AGENT_ID_METADATA_KEY,
  PROTOCOL_METADATA_KEY,
  SESSION_METADATA_KEY,
  agentServiceClient,
  protocolMetadata,
  type AgentServiceClient,
  type RegisterResponse,
  type ServerMessage,
} from "../../src/grpc/protocol.js";
import type { ControlPlane } from "../../src/server/control-plane.js";

/** Every client opened, for the test's afterEach to close. */
export const clients: AgentServiceClient[] = [];

function metadata(extra: Record<string, string>, version: string | undefined): grpc.Metadata {
  const md = protocolMetadata(extra);
  if (version !== undefined) md.set(PROTOCOL_METADATA_KEY, version);
  return md;
}

/** Registers; `version` overrides the protocol version this checkout speaks. */
export async function register(c: ControlPlane, token: string, version?: string): Promise<{ session: RegisterResponse; keyPem: string }> {
  const client = agentServiceClient(`127.0.0.1:${c.grpcPort}`, grpc.credentials.createSsl(Buffer.from(c.caPem)));
  clients.push(client);
  const { keyPem, csrPem } = createKeyAndCsr("test");
  const session = await new Promise<RegisterResponse>((resolve, reject) =>
    client.register({ token, hostname: "t", labels: {}, capacity: 1, csrPem }, metadata({}, version), (e, r) => (e ? reject(e) : resolve(r!))),
  );
  return { session, keyPem };
}

/** Opens the stream; `ended` resolves with the call's error, or null when it ends. */
export function connect(c: ControlPlane, credentials: grpc.ChannelCredentials, session: RegisterResponse, version?: string) {
  const client = agentServiceClient(`127.0.0.1:${c.grpcPort}`, credentials);
  clients.push(client);
  const stream = client.connect(metadata({ [AGENT_ID_METADATA_KEY]: session.agentId, [SESSION_METADATA_KEY]: session.sessionSecret }, version));
  const messages: ServerMessage[] = [];
  const ended = new Promise<grpc.ServiceError | null>((resolve) => {
    stream.on("data", (m: ServerMessage) => messages.push(m));
    stream.on("error", (e: grpc.ServiceError) => resolve(e));
    stream.on("end", () => resolve(null));
  });
  return { client, stream, messages, ended };
}

export const mtls = (c: ControlPlane, keyPem: string, session: RegisterResponse) =>
  grpc.credentials.createSsl(Buffer.from(c.caPem), Buffer.from(keyPem), Buffer.from(session.certificatePem));
