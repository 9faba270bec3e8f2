/**
 * How an agent reaches the server: a gRPC client over TLS checked against the
 * server's CA (or plaintext when no CA is given, for tests of the protocol).
 *
 * A server addressed by IP (`127.0.0.1:9090`, the usual case for local and
 * host-network agents) must not have that address sent as the TLS server
 * name: RFC 6066 forbids IP addresses in SNI and Node warns (DEP0123). So the
 * channel sends a fixed name instead and checks the server's certificate
 * against the address actually dialled, exactly as it would have without
 * the override.
 */
import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { agentServiceClient, type AgentServiceClient } from "../grpc/protocol.js";

/** The TLS server name sent when the server is dialled by IP address. */
export const SNI_FOR_IP_ADDRESSES = "hodei-server";

export interface ClientIdentity {
  keyPem: string;
  certificatePem: string;
}

/** The host part of `host:port`, `[v6]:port` or a bare host. */
export function hostOf(address: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) return bracketed[1] as string;
  const colons = address.split(":").length - 1;
  if (colons === 1) return address.slice(0, address.lastIndexOf(":"));
  return address; // a bare host, or an unbracketed IPv6 address
}

export function serverClient(address: string, caPem: string | null, identity?: ClientIdentity): AgentServiceClient {
  if (!caPem) return agentServiceClient(address, grpc.credentials.createInsecure());
  const host = hostOf(address);
  const byIp = isIP(host) !== 0;
  const verify = byIp ? { checkServerIdentity: (_name: string, cert: PeerCertificate) => checkServerIdentity(host, cert) } : {};
  const credentials = identity
    ? grpc.credentials.createSsl(Buffer.from(caPem), Buffer.from(identity.keyPem), Buffer.from(identity.certificatePem), verify)
    : grpc.credentials.createSsl(Buffer.from(caPem), null, null, verify);
  return agentServiceClient(address, credentials, byIp ? { "grpc.ssl_target_name_override": SNI_FOR_IP_ADDRESSES } : {});
}
