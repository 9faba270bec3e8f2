/**
 * Register: a token for a client certificate (SPEC 7). The CSR is checked
 * and signed before the token is redeemed, so a bad request does not burn a
 * one-time token; the token is redeemed before anything is stored.
 */
import { randomBytes, randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { CsrRejectedError, signAgentCsr, type CertificateAuthority } from "../pki/ca.js";
import { certificateFingerprint } from "../pki/csr.js";
import { checkProtocol, sha256, type AgentDirectory, type RegisteredAgent } from "./agent-identity.js";
import type { TokenRefusal } from "./agent-tokens.js";
import type { Refusal } from "./file-service.js";
import type { RegisterRequest, RegisterResponse } from "./protocol.js";

export interface RegistrationOptions {
  agents: AgentDirectory;
  /** Signs client certificates; absent only on a server without TLS (tests of the protocol). */
  ca: CertificateAuthority | null;
  /** Operator-configured tokens (HODEI_AGENT_TOKEN): true if `token` is one. */
  staticToken: (token: string) => boolean;
  /** Tokens in the store (bootstrap and registration). */
  redeem: ((token: string) => Promise<{ ok: true } | { ok: false; why: TokenRefusal }>) | null;
  heartbeatIntervalMs: number;
  leaseMs: number;
}

export async function register(options: RegistrationOptions, call: grpc.ServerUnaryCall<RegisterRequest, RegisterResponse>): Promise<RegisterResponse | Refusal> {
  const refused = checkProtocol(call.metadata);
  if (refused) return refused;
  const request = call.request;
  const id = randomUUID();
  let certificatePem = "";
  if (options.ca) {
    try {
      certificatePem = signAgentCsr(options.ca, request.csrPem, id);
    } catch (error) {
      if (error instanceof CsrRejectedError) return { code: grpc.status.INVALID_ARGUMENT, details: error.message };
      throw error;
    }
  }
  if (!options.staticToken(request.token)) {
    const redeemed = options.redeem ? await options.redeem(request.token) : { ok: false as const, why: "unknown" as const };
    if (!redeemed.ok) return { code: grpc.status.UNAUTHENTICATED, details: `registration token refused: ${describe(redeemed.why)}` };
  }
  const secret = randomBytes(32).toString("base64url");
  const agent: RegisteredAgent = {
    id,
    secretHash: sha256(secret),
    labels: { provider: "local", ...request.labels },
    capacity: Math.max(1, Math.min(request.capacity || 1, 64)),
    certFingerprint: certificatePem ? certificateFingerprint(certificatePem) : null,
  };
  await options.agents.insert({ ...agent, hostname: request.hostname || "unknown" }, new Date());
  return {
    agentId: id,
    sessionSecret: secret,
    heartbeatIntervalMs: options.heartbeatIntervalMs,
    leaseMs: options.leaseMs,
    certificatePem,
  };
}

function describe(why: TokenRefusal): string {
  switch (why) {
    case "used":
      return "this one-time token was already used";
    case "expired":
      return "the token has expired";
    case "revoked":
      return "the token was revoked";
    case "unknown":
      return "unknown token";
  }
}
