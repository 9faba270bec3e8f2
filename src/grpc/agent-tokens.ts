/**
 * Tokens an agent exchanges for its client certificate (SPEC 7), kept as
 * SHA-256 hashes. A bootstrap token is consumed by the statement that checks
 * it (`used_at is null`), so of two registrations racing with one token
 * exactly one wins; a registration token stays valid until it expires or is
 * revoked.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Queryable } from "../store/database.js";

export type AgentTokenKind = "bootstrap" | "registration";

export interface IssuedToken {
  id: string;
  token: string;
  expiresAt: Date | null;
}

/** A registration token as the operator sees it: everything but the secret. */
export interface RegistrationTokenInfo {
  id: string;
  description: string;
  createdAt: string;
  expiresAt: string | null;
  /** The last registration with it (null: never used). */
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** Why a token was refused, for the agent's error message (never the token itself). */
export type TokenRefusal = "unknown" | "used" | "expired" | "revoked";

export class AgentTokens {
  constructor(private readonly db: Queryable) {}

  async issue(kind: AgentTokenKind, options: { ttlMs?: number; description?: string; at?: Date } = {}): Promise<IssuedToken> {
    const at = options.at ?? new Date();
    const token = `hodei_${kind === "bootstrap" ? "bt" : "rt"}_${randomBytes(32).toString("base64url")}`;
    const id = randomUUID();
    const expiresAt = options.ttlMs === undefined ? null : new Date(at.getTime() + options.ttlMs);
    await this.db.query(
      `insert into agent_tokens (id, kind, token_hash, description, created_at, expires_at) values ($1, $2, $3, $4, $5, $6)`,
      [id, kind, hashToken(token), options.description ?? "", at, expiresAt],
    );
    return { id, token, expiresAt };
  }

  /** Accepts the token (consuming it if it is a bootstrap token) or says why not. */
  async redeem(token: string, at: Date = new Date()): Promise<{ ok: true; id: string; kind: AgentTokenKind } | { ok: false; why: TokenRefusal }> {
    const hash = hashToken(token);
    const { rows } = await this.db.query<{ id: string; kind: AgentTokenKind }>(
      `update agent_tokens set used_at = $2
        where token_hash = $1 and revoked_at is null and (expires_at is null or expires_at > $2)
          and (kind = 'registration' or used_at is null)
        returning id, kind`,
      [hash, at],
    );
    const won = rows[0];
    if (won) return { ok: true, id: won.id, kind: won.kind };
    const { rows: found } = await this.db.query<{ used_at: Date | null; expires_at: Date | null; revoked_at: Date | null }>(
      `select used_at, expires_at, revoked_at from agent_tokens where token_hash = $1`,
      [hash],
    );
    const f = found[0];
    if (!f) return { ok: false, why: "unknown" };
    if (f.revoked_at) return { ok: false, why: "revoked" };
    if (f.expires_at && new Date(f.expires_at).getTime() <= at.getTime()) return { ok: false, why: "expired" };
    return { ok: false, why: "used" };
  }

  /** The operator's registration tokens, newest first; never the token or its hash. */
  async listRegistration(): Promise<RegistrationTokenInfo[]> {
    const { rows } = await this.db.query<{
      id: string;
      description: string;
      created_at: Date | string;
      expires_at: Date | string | null;
      used_at: Date | string | null;
      revoked_at: Date | string | null;
    }>(
      `select id, description, created_at, expires_at, used_at, revoked_at from agent_tokens
        where kind = 'registration' order by created_at desc, id`,
    );
    return rows.map((r) => ({
      id: r.id,
      description: r.description,
      createdAt: iso(r.created_at),
      expiresAt: r.expires_at === null ? null : iso(r.expires_at),
      lastUsedAt: r.used_at === null ? null : iso(r.used_at),
      revokedAt: r.revoked_at === null ? null : iso(r.revoked_at),
    }));
  }

  /**
   * Revokes a registration token: `revoked` now, `already` if it was, `unknown`
   * for an id that is not a registration token (bootstrap tokens are the server's own).
   */
  async revokeRegistration(id: string, at: Date = new Date()): Promise<"revoked" | "already" | "unknown"> {
    const { rows } = await this.db.query<{ revoked_now: boolean }>(
      `update agent_tokens set revoked_at = coalesce(revoked_at, $2) where id = $1 and kind = 'registration'
       returning revoked_at = $2 as revoked_now`,
      [id, at],
    );
    const r = rows[0];
    if (!r) return "unknown";
    return r.revoked_now ? "revoked" : "already";
  }

  async revoke(id: string, at: Date = new Date()): Promise<boolean> {
    const { rows } = await this.db.query<{ id: string }>(
      `update agent_tokens set revoked_at = $2 where id = $1 and revoked_at is null returning id`,
      [id, at],
    );
    return rows.length > 0;
  }
}

export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token).digest();
}

function iso(value: Date | string): string {
  return new Date(value).toISOString();
}
