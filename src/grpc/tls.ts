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

/**
 * The CAs whose client certificates the listener lets through to the
 * handlers: its own, and those of the other control planes sharing the store
 * (their agents fail over here when their server dies). Letting a peer's
 * certificate through the handshake is not trusting it: each call is matched
 * to the certificate fingerprint recorded when the agent registered.
 */
export class TrustedCas implements CertificateProvider {
  private readonly listeners = new Set<Parameters<CertificateProvider["addCaCertificateListener"]>[0]>();
  private pems: string[];

  constructor(own: string) {
    this.pems = [own];
  }

  /** Replaces the peers' CAs; new connections are checked against the result. */
  setPeers(peerPems: readonly string[]): void {
    const next = [...new Set([this.pems[0]!, ...peerPems])];
    if (next.length === this.pems.length && next.every((p, i) => p === this.pems[i])) return;
    this.pems = next;
    for (const listener of this.listeners) listener(this.update());
  }

  addCaCertificateListener: CertificateProvider["addCaCertificateListener"] = (listener) => {
    this.listeners.add(listener);
    setImmediate(() => listener(this.update()));
  };

  removeCaCertificateListener: CertificateProvider["removeCaCertificateListener"] = (listener) => {
    this.listeners.delete(listener);
  };

  addIdentityCertificateListener: CertificateProvider["addIdentityCertificateListener"] = (listener) => setImmediate(() => listener(null));
  removeIdentityCertificateListener: CertificateProvider["removeIdentityCertificateListener"] = () => undefined;

  private update(): { caCertificate: Buffer } {
    return { caCertificate: Buffer.from(this.pems.join("\n")) };
  }
}

export function agentServerCredentials(tls: ServerTls, trusted: CertificateProvider = fixedProvider({ caCertificate: Buffer.from(tls.caPem) })): grpc.ServerCredentials {
  // grpc-js passes the first provider on as the identity and the second as the CA
  // (its declaration names them the other way round).
  return grpc.experimental.createCertificateProviderServerCredentials(
    fixedProvider({ certificate: Buffer.from(tls.certPem), privateKey: Buffer.from(tls.keyPem) }),
    trusted,
    false,
  );
}

/** The client certificate of the call if the TLS layer verified it against the CA, else null. */
export function verifiedPeer(call: { getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null }): PeerCertificate | null {
  return call.getAuthContext()?.sslPeerCertificate ?? null;
}
