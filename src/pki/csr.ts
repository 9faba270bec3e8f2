/**
 * The agent's half of the certificate exchange: a fresh key pair made on the
 * agent and a certificate signing request carrying only the public key.
 */
import { X509Certificate } from "node:crypto";
import forge from "node-forge";
import { newRsaKey } from "./ca.js";

export interface KeyAndCsr {
  keyPem: string;
  csrPem: string;
}

export function createKeyAndCsr(commonName: string): KeyAndCsr {
  const keyPem = newRsaKey();
  const key = forge.pki.privateKeyFromPem(keyPem);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  csr.setSubject([{ name: "commonName", value: commonName }]);
  csr.sign(key, forge.md.sha256.create());
  return { keyPem, csrPem: forge.pki.certificationRequestToPem(csr) };
}

/** The SHA-256 fingerprint of a PEM certificate, as Node's `PeerCertificate.fingerprint256` writes it. */
export function certificateFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}
