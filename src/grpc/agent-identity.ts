/**
 * Who is calling: every call but Register must come with the client
 * certificate the server issued to the agent (verified by TLS against the
 * CA, then matched by fingerprint to the one recorded at registration) and
 * the agent's session secret. Either alone is refused.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { CallIdentity, Refusal } from "./file-service.js";
import { AGENT_ID_METADATA_KEY, PROTOCOL_METADATA_KEY, SERVER_PROTOCOL_VERSIONS, SESSION_METADATA_KEY } from "./protocol.js";
import { verifiedPeer } from "./tls.js";

export interface RegisteredAgent {
  id: string;
  secretHash: Buffer;
  labels: Record<string, string>;
  capacity: number;
  /** SHA-256 of the agent's client certificate (Node's fingerprint256 form); null without TLS. */
  certFingerprint: string | null;
}

/** Where registered agents are kept (the store), so they outlive a restart. */
export interface AgentDirectory {
  insert(agent: RegisteredAgent & { hostname: string }, at: Date): Promise<void>;
  find(id: string): Promise<RegisteredAgent | null>;
}

export function checkProtocol(metadata: grpc.Metadata): Refusal | null {
  const version = metadata.get(PROTOCOL_METADATA_KEY)[0];
  if (typeof version === "string" && SERVER_PROTOCOL_VERSIONS.includes(version)) return null;
  return {
    code: grpc.status.FAILED_PRECONDITION,
    details: `agent protocol ${typeof version === "string" ? version : "(none)"} is not supported: this server speaks protocol ${SERVER_PROTOCOL_VERSIONS.join(" and ")}; upgrade the agent`,
  };
}

export async function identify(call: CallIdentity, agents: AgentDirectory, mutualTls: boolean): Promise<RegisteredAgent | Refusal> {
  const refused = checkProtocol(call.metadata);
  if (refused) return refused;
  const unauthenticated = (details: string): Refusal => ({ code: grpc.status.UNAUTHENTICATED, details });
  const id = call.metadata.get(AGENT_ID_METADATA_KEY)[0];
  const secret = call.metadata.get(SESSION_METADATA_KEY)[0];
  if (typeof id !== "string" || typeof secret !== "string") return unauthenticated("agent id and session are required");
  let peer = null;
  if (mutualTls) {
    peer = verifiedPeer(call);
    if (!peer) return unauthenticated("a client certificate issued by this server's CA is required");
  }
  const agent = await agents.find(id);
  if (!agent) return unauthenticated("unknown agent or bad session");
  if (peer && (peer.subject.CN !== agent.id || peer.fingerprint256 !== agent.certFingerprint)) {
    return unauthenticated("the client certificate is not this agent's");
  }
  if (!timingSafeEqual(agent.secretHash, sha256(secret))) return unauthenticated("unknown agent or bad session");
  return agent;
}

export function sha256(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}
