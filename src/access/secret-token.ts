/**
 * The secrets people hold (session cookies, personal tokens, sign-in states):
 * random, prefixed so a leaked one is recognisable, and kept in the store
 * only as their SHA-256, so a copy of the store signs nobody in.
 */
import { createHash, randomBytes } from "node:crypto";

export type SecretKind = "session" | "token" | "state";

const PREFIX: Record<SecretKind, string> = { session: "hds_", token: "hdp_", state: "" };

export function newSecret(kind: SecretKind): string {
  return PREFIX[kind] + randomBytes(32).toString("base64url");
}

export function secretHash(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}
