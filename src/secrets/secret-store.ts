/**
 * Repository secrets in the store, sealed with the server's key (SPEC 6).
 * Values exist in clear only in memory: in `set`'s argument and in what
 * `reveal` returns for an assignment.
 */
import type { Queryable } from "../store/database.js";
import { open, seal } from "./cipher.js";
import type { SecretsKey } from "./key.js";

export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const REPO_NAME = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
/** Environment values travel in process environments: keep them reasonable. */
export const MAX_SECRET_BYTES = 64 * 1024;

export class SecretUnreadableError extends Error {
  constructor(
    readonly repo: string,
    readonly secretName: string,
    readonly keyId: string,
  ) {
    super(`secret ${secretName} of ${repo} was sealed with key ${keyId} and cannot be opened with the current key`);
    this.name = "SecretUnreadableError";
  }
}

interface SecretRow {
  name: string;
  key_id: string;
  nonce: string;
  ciphertext: string;
  tag: string;
}

export class SecretStore {
  constructor(
    private readonly db: Queryable,
    private readonly key: SecretsKey,
  ) {}

  /** Creates or replaces the secret; true if it was new. */
  async set(repo: string, name: string, value: string, at: Date = new Date()): Promise<boolean> {
    const sealed = seal(this.key.key, aad(repo, name), value);
    const { rows } = await this.db.query<{ inserted: boolean }>(
      `insert into repo_secrets (repo, name, key_id, nonce, ciphertext, tag, updated_at)
       values ($1, $2, $3, $4, $5, $6, $7)
       on conflict (repo, name) do update
         set key_id = excluded.key_id, nonce = excluded.nonce, ciphertext = excluded.ciphertext,
             tag = excluded.tag, updated_at = excluded.updated_at
       returning (xmax = 0) as inserted`,
      [repo, name, this.key.id, b64(sealed.nonce), b64(sealed.ciphertext), b64(sealed.tag), at],
    );
    return rows[0]?.inserted ?? false;
  }

  async names(repo: string): Promise<string[]> {
    const { rows } = await this.db.query<{ name: string }>(`select name from repo_secrets where repo = $1 order by name`, [repo]);
    return rows.map((r) => r.name);
  }

  /** The values of `names` that exist for `repo`; missing names are left out. */
  async reveal(repo: string, names: readonly string[]): Promise<Record<string, string>> {
    if (names.length === 0) return {};
    const { rows } = await this.db.query<SecretRow>(
      `select name, key_id, nonce, ciphertext, tag from repo_secrets where repo = $1 and name = any($2::text[])`,
      [repo, [...names]],
    );
    const out: Record<string, string> = {};
    for (const r of rows) {
      try {
        out[r.name] = open(this.key.key, aad(repo, r.name), {
          nonce: Buffer.from(r.nonce, "base64"),
          ciphertext: Buffer.from(r.ciphertext, "base64"),
          tag: Buffer.from(r.tag, "base64"),
        });
      } catch {
        throw new SecretUnreadableError(repo, r.name, r.key_id);
      }
    }
    return out;
  }
}

function aad(repo: string, name: string): string {
  return `${repo}\u0000${name}`;
}

function b64(b: Buffer): string {
  return b.toString("base64");
}
