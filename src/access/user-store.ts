/**
 * People in the store: accounts (with their forge token sealed by the
 * server's secrets key), dashboard sessions, personal tokens, sign-in
 * attempts in flight, and the copy of what the forge lets each one do.
 * Secrets handed out (session cookies, tokens, states) are kept as SHA-256
 * hashes only and shown once.
 */
import { randomUUID } from "node:crypto";
import { open, seal } from "../secrets/cipher.js";
import type { SecretsKey } from "../secrets/key.js";
import type { Queryable } from "../store/database.js";
import type { ForgeAccount, ForgeName, ForgeRepoPermission } from "./oauth-provider.js";
import type { SignedInUser } from "./principal.js";
import { newSecret, secretHash } from "./secret-token.js";

export interface PersonalTokenInfo {
  id: string;
  description: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface RepoPermission {
  push: boolean;
  admin: boolean;
}

interface UserRow {
  id: string;
  forge: ForgeName;
  login: string;
  name: string | null;
}

export class ForgeTokenUnreadableError extends Error {
  constructor(
    readonly userId: string,
    readonly keyId: string,
  ) {
    super(`the forge token of user ${userId} was sealed with key ${keyId} and cannot be opened with the current key: the user must sign in again`);
    this.name = "ForgeTokenUnreadableError";
  }
}

const toUser = (r: UserRow): SignedInUser => ({ id: r.id, forge: r.forge, login: r.login, name: r.name });

export class UserStore {
  constructor(
    private readonly db: Queryable,
    private readonly key: SecretsKey,
  ) {}

  /** Creates the account on first sign-in, else refreshes its login, name and forge token. */
  async upsertUser(forge: ForgeName, account: ForgeAccount, forgeToken: string, at: Date): Promise<SignedInUser> {
    const id = `${forge}:${account.forgeUserId}`;
    const sealed = seal(this.key.key, tokenAad(id), forgeToken);
    const { rows } = await this.db.query<UserRow>(
      `insert into users (id, forge, forge_user_id, login, name, token_key_id, token_nonce, token_ciphertext, token_tag, created_at, signed_in_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
       on conflict (id) do update set login = excluded.login, name = excluded.name, token_key_id = excluded.token_key_id,
         token_nonce = excluded.token_nonce, token_ciphertext = excluded.token_ciphertext, token_tag = excluded.token_tag,
         signed_in_at = excluded.signed_in_at
       returning id, forge, login, name`,
      [id, forge, account.forgeUserId, account.login, account.name, this.key.id, b64(sealed.nonce), b64(sealed.ciphertext), b64(sealed.tag), at],
    );
    return toUser(rows[0]!);
  }

  async forgeToken(userId: string): Promise<string> {
    const { rows } = await this.db.query<{ token_key_id: string; token_nonce: string; token_ciphertext: string; token_tag: string }>(
      `select token_key_id, token_nonce, token_ciphertext, token_tag from users where id = $1`,
      [userId],
    );
    const r = rows[0];
    if (!r) throw new ForgeTokenUnreadableError(userId, "none");
    try {
      return open(this.key.key, tokenAad(userId), { nonce: Buffer.from(r.token_nonce, "base64"), ciphertext: Buffer.from(r.token_ciphertext, "base64"), tag: Buffer.from(r.token_tag, "base64") });
    } catch {
      throw new ForgeTokenUnreadableError(userId, r.token_key_id);
    }
  }

  // --- sign-in attempts ------------------------------------------------------

  async startAttempt(forge: ForgeName, codeVerifier: string, returnTo: string, ttlMs: number, at: Date): Promise<string> {
    const state = newSecret("state");
    await this.db.query(`delete from sign_in_attempts where expires_at < $1`, [at]);
    await this.db.query(
      `insert into sign_in_attempts (state_hash, forge, code_verifier, return_to, created_at, expires_at) values ($1, $2, $3, $4, $5, $6)`,
      [secretHash(state), forge, codeVerifier, returnTo, at, new Date(at.getTime() + ttlMs)],
    );
    return state;
  }

  /** The attempt `state` names, used up by this call; null when unknown, used, expired or for another forge. */
  async finishAttempt(forge: ForgeName, state: string, at: Date): Promise<{ codeVerifier: string; returnTo: string } | null> {
    const { rows } = await this.db.query<{ code_verifier: string; return_to: string; forge: string; expires_at: Date }>(
      `delete from sign_in_attempts where state_hash = $1 returning code_verifier, return_to, forge, expires_at`,
      [secretHash(state)],
    );
    const r = rows[0];
    if (!r || r.forge !== forge || r.expires_at.getTime() <= at.getTime()) return null;
    return { codeVerifier: r.code_verifier, returnTo: r.return_to };
  }

  // --- sessions --------------------------------------------------------------

  async createSession(userId: string, ttlMs: number, at: Date): Promise<{ secret: string; csrfToken: string; expiresAt: Date }> {
    const secret = newSecret("session");
    const csrfToken = newSecret("state");
    const expiresAt = new Date(at.getTime() + ttlMs);
    await this.db.query(`delete from user_sessions where expires_at < $1`, [at]);
    await this.db.query(`insert into user_sessions (id_hash, user_id, csrf_token, created_at, expires_at) values ($1, $2, $3, $4, $5)`, [
      secretHash(secret),
      userId,
      csrfToken,
      at,
      expiresAt,
    ]);
    return { secret, csrfToken, expiresAt };
  }

  async session(secret: string, at: Date): Promise<{ user: SignedInUser; csrfToken: string } | null> {
    const { rows } = await this.db.query<UserRow & { csrf_token: string }>(
      `select u.id, u.forge, u.login, u.name, s.csrf_token from user_sessions s join users u on u.id = s.user_id
        where s.id_hash = $1 and s.expires_at > $2`,
      [secretHash(secret), at],
    );
    const r = rows[0];
    return r ? { user: toUser(r), csrfToken: r.csrf_token } : null;
  }

  async endSession(secret: string): Promise<void> {
    await this.db.query(`delete from user_sessions where id_hash = $1`, [secretHash(secret)]);
  }

  // --- personal tokens -------------------------------------------------------

  async createToken(userId: string, description: string, expiresAt: Date | null, at: Date): Promise<{ id: string; token: string }> {
    const token = newSecret("token");
    const id = randomUUID();
    await this.db.query(`insert into user_tokens (id, user_id, token_hash, description, created_at, expires_at) values ($1, $2, $3, $4, $5, $6)`, [
      id,
      userId,
      secretHash(token),
      description,
      at,
      expiresAt,
    ]);
    return { id, token };
  }

  /** The token's user, when it is known, not revoked and not expired (and then its last use is now). */
  async tokenUser(token: string, at: Date): Promise<{ user: SignedInUser; tokenId: string } | null> {
    const { rows } = await this.db.query<UserRow & { token_id: string }>(
      `update user_tokens t set last_used_at = $2 from users u
        where t.token_hash = $1 and u.id = t.user_id and t.revoked_at is null and (t.expires_at is null or t.expires_at > $2)
        returning u.id, u.forge, u.login, u.name, t.id as token_id`,
      [secretHash(token), at],
    );
    const r = rows[0];
    return r ? { user: toUser(r), tokenId: r.token_id } : null;
  }

  async listTokens(userId: string): Promise<PersonalTokenInfo[]> {
    const { rows } = await this.db.query<{ id: string; description: string; created_at: Date; expires_at: Date | null; last_used_at: Date | null; revoked_at: Date | null }>(
      `select id, description, created_at, expires_at, last_used_at, revoked_at from user_tokens where user_id = $1 order by created_at desc, id`,
      [userId],
    );
    return rows.map((r) => ({
      id: r.id,
      description: r.description,
      createdAt: r.created_at.toISOString(),
      expiresAt: r.expires_at?.toISOString() ?? null,
      lastUsedAt: r.last_used_at?.toISOString() ?? null,
      revokedAt: r.revoked_at?.toISOString() ?? null,
    }));
  }

  /** false when the user has no token with this id. Revoking twice is fine. */
  async revokeToken(userId: string, tokenId: string, at: Date): Promise<boolean> {
    const { rowCount } = await this.db.query(`update user_tokens set revoked_at = coalesce(revoked_at, $3) where user_id = $1 and id = $2`, [userId, tokenId, at]);
    return rowCount > 0;
  }

  // --- what the forge lets the user do ---------------------------------------

  /** Replaces the user's copy of their repository permissions with the forge's listing, and notes each repository's visibility. */
  async replaceAccess(user: SignedInUser, listed: readonly ForgeRepoPermission[], at: Date): Promise<void> {
    const repos = [...new Map(listed.map((r) => [r.repo, r])).values()];
    const readable = repos.filter((r) => r.pull);
    await this.db.query(`delete from user_repo_access where user_id = $1`, [user.id]);
    if (readable.length > 0) {
      await this.db.query(
        `insert into user_repo_access (user_id, repo, can_push, can_admin)
         select $1, r.repo, r.push, r.admin from jsonb_to_recordset($2::jsonb) as r(repo text, push boolean, admin boolean)
         on conflict (user_id, repo) do update set can_push = excluded.can_push, can_admin = excluded.can_admin`,
        [user.id, JSON.stringify(readable.map((r) => ({ repo: r.repo, push: r.push, admin: r.admin })))],
      );
    }
    await this.recordVisibility(user.forge, repos, at);
    await this.db.query(`update users set access_fetched_at = $2 where id = $1`, [user.id, at]);
  }

  /** One repository's permissions as the forge just said (null: none). */
  async replaceRepoAccess(user: SignedInUser, repo: string, permission: ForgeRepoPermission | null, at: Date): Promise<void> {
    if (!permission?.pull) {
      await this.db.query(`delete from user_repo_access where user_id = $1 and repo = $2`, [user.id, repo]);
      return;
    }
    await this.db.query(
      `insert into user_repo_access (user_id, repo, can_push, can_admin) values ($1, $2, $3, $4)
       on conflict (user_id, repo) do update set can_push = excluded.can_push, can_admin = excluded.can_admin`,
      [user.id, repo, permission.push, permission.admin],
    );
    await this.recordVisibility(user.forge, [permission], at);
  }

  /** The user's permission on `repo` in the copy of the forge's listing (null: not listed). */
  async cachedAccess(userId: string, repo: string): Promise<RepoPermission | null> {
    const { rows } = await this.db.query<{ can_push: boolean; can_admin: boolean }>(`select can_push, can_admin from user_repo_access where user_id = $1 and repo = $2`, [userId, repo]);
    const r = rows[0];
    return r ? { push: r.can_push, admin: r.can_admin } : null;
  }

  async accessFetchedAt(userId: string): Promise<Date | null> {
    const { rows } = await this.db.query<{ access_fetched_at: Date | null }>(`select access_fetched_at from users where id = $1`, [userId]);
    return rows[0]?.access_fetched_at ?? null;
  }

  async recordVisibility(forge: ForgeName, repos: readonly { repo: string; private: boolean }[], at: Date): Promise<void> {
    if (repos.length === 0) return;
    await this.db.query(
      `insert into repo_visibility (forge, repo, private, updated_at)
       select $1, r.repo, r.private, $3 from jsonb_to_recordset($2::jsonb) as r(repo text, private boolean)
       on conflict (forge, repo) do update set private = excluded.private, updated_at = excluded.updated_at`,
      [forge, JSON.stringify(repos.map((r) => ({ repo: r.repo, private: r.private }))), at],
    );
  }
}

function tokenAad(userId: string): string {
  return `user-forge-token\u0000${userId}`;
}

function b64(b: Buffer): string {
  return b.toString("base64");
}
