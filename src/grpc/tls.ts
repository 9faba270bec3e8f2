/**
 * TLS for the agent listener. One port serves both kinds of call: Register
 * runs over server-authenticated TLS (the agent has no certificate yet), and
 * every other call must present a client certificate issued by the server's
 * CA. So the server asks for a client certificate without requiring one at
 * the handshake, and each handler checks the verified peer certificate
 * (`verifiedPeer`); grpc-js only reports a peer certificate that the TLS
 * layer verified against the CA.
 */
import * as grpc from "@grpc/grpc-js";
import type { PeerCertificate } from "node:tls";

export interface ServerTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

type CertificateProvider = Parameters<typeof grpc.experimental.createCertificateProviderServerCredentials>[0];

/**
 * A certificate provider that hands out fixed PEMs. It answers a new listener
 * on the next tick: grpc-js subscribes before it registers the server that
 * waits for the result, so an answer given at once would be lost.
 */
function fixedProvider(update: { caCertificate?: Buffer; certificate?: Buffer; privateKey?: Buffer }): CertificateProvider {
  return {
    addCaCertificateListener: (listener) =>
      setImmediate(() => listener(update.caCertificate ? { caCertificate: update.caCertificate } : null)),
    removeCaCertificateListener: () => undefined,
    addIdentityCertificateListener: (listener) =>
      setImmediate(() =>
        listener(update.certificate && update.privateKey ? { certificate: update.certificate, privateKey: update.privateKey } : null),
      ),
    removeIdentityCertificateListener: () => undefined,
  };
}

export function agentServerCredentials(tls: ServerTls): grpc.ServerCredentials {
  // grpc-js passes the first provider on as the identity and the second as the CA
  // (its declaration names them the other way round).
  return grpc.experimental.createCertificateProviderServerCredentials(
    fixedProvider({ certificate: Buffer.from(tls.certPem), privateKey: Buffer.from(tls.keyPem) }),
    fixedProvider({ caCertificate: Buffer.from(tls.caPem) }),
    false,
  );
}

/** The client certificate of the call if the TLS layer verified it against the CA, else null. */
export function verifiedPeer(call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null }): PeerCertificate | null {
  return call.getAuthContext()?.sslPeerCertificate ?? null;
}
