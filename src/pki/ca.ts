/**
 * The server's own certificate authority (SPEC 7): generated on first start
 * into HODEI_DATA_DIR/pki (the key with mode 0600), then loaded. It signs the
 * server's TLS certificate and the client certificates agents get for a token.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import forge from "node-forge";

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

export interface KeyPair {
  certPem: string;
  keyPem: string;
}

export class CsrRejectedError extends Error {
  readonly retryable = false;
  constructor(readonly detail: string) {
    super(`certificate signing request refused: ${detail}`);
    this.name = "CsrRejectedError";
  }
}

const DAY = 24 * 60 * 60 * 1000;

/** An RSA key made by Node's crypto (fast, native), as PEM. */
export function newRsaKey(): string {
  return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

export async function loadOrCreateCa(dataDir: string): Promise<CertificateAuthority> {
  const dir = path.join(dataDir, "pki");
  const certFile = path.join(dir, "ca.crt");
  const keyFile = path.join(dir, "ca.key");
  try {
    return { certPem: await readFile(certFile, "utf8"), keyPem: await readFile(keyFile, "utf8") };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const keyPem = newRsaKey();
  const key = forge.pki.privateKeyFromPem(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - DAY);
  cert.validity.notAfter = new Date(Date.now() + 3650 * DAY);
  // A name of its own: control planes sharing a store trust each other's CAs
  // (fail-over), and TLS finds an issuer by name, so two CAs of one name would
  // have one's certificates checked against the other's key.
  const subject = [{ name: "commonName", value: `Hodei agent CA ${randomBytes(6).toString("hex")}` }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(key, forge.md.sha256.create());
  const certPem = forge.pki.certificateToPem(cert);
  try {
    // "wx": of two processes starting at once, one writes and both then read its files.
    await writeFile(keyFile, keyPem, { mode: 0o600, flag: "wx" });
    await writeFile(certFile, certPem, { mode: 0o644, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    await new Promise((r) => setTimeout(r, 200));
  }
  return { certPem: await readFile(certFile, "utf8"), keyPem: await readFile(keyFile, "utf8") };
}

/** The server's TLS certificate for `names` (DNS names and IP addresses); the key stays in memory. */
export function issueServerCertificate(ca: CertificateAuthority, names: readonly string[]): KeyPair {
  const keyPem = newRsaKey();
  const key = forge.pki.privateKeyFromPem(keyPem);
  const altNames = [...new Set(names)].map((n) => (isIp(n) ? { type: 7, ip: n } : { type: 2, value: n }));
  const certPem = sign(ca, forge.pki.setRsaPublicKey(key.n, key.e), names[0] ?? "hodei", 90, [
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    { name: "subjectAltName", altNames },
  ]);
  return { certPem, keyPem };
}

/**
 * Signs an agent's CSR as a client certificate whose common name is the
 * agent's id (the CSR's own subject is ignored). The agent's key never
 * leaves the agent: only its public half is in the CSR.
 */
export function signAgentCsr(ca: CertificateAuthority, csrPem: string, agentId: string, days = 365): string {
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(csrPem);
  } catch (error) {
    throw new CsrRejectedError(`not a PEM certificate request (${(error as Error).message})`);
  }
  if (!csr.verify()) throw new CsrRejectedError("its signature does not match its public key");
  if (!csr.publicKey) throw new CsrRejectedError("it carries no public key");
  return sign(ca, csr.publicKey, agentId, days, [
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", clientAuth: true },
  ]);
}

function sign(ca: CertificateAuthority, publicKey: forge.pki.PublicKey, commonName: string, days: number, extensions: object[]): string {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * DAY);
  cert.setSubject([{ name: "commonName", value: commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions(extensions);
  cert.sign(caKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

function serial(): string {
  // Positive: the top bit clear.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString("hex");
}

function isIp(name: string): boolean {
  return /^\d+\.\d+\.\d+\.\d+$/.test(name) || name.includes(":");
}
