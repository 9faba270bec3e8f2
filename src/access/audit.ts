/**
 * The audit trail: who signed in, re-ran, cancelled, created or revoked a
 * token or set a secret; when, and from which address. Readable by admins
 * through `GET /api/audit`. Secret values never appear here. Comment
 * commands are recorded too, for the forge account that wrote them
 * (actor kind `forge`, "github:octocat"), whether or not it ever signed in.
 */
import type { Queryable } from "../store/database.js";
import { actorName, type Principal } from "./principal.js";

export type AuditAction = "sign_in" | "sign_out" | "run.rerun" | "run.cancel" | "run.approve" | "run.start" | "token.create" | "token.revoke" | "secret.set";

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  actorKind: "admin" | "user" | "forge";
  userId: string | null;
  action: AuditAction;
  repo: string | null;
  runId: string | null;
  detail: Record<string, unknown>;
  ip: string | null;
}

/** A forge account acting through a pull request comment (SPEC 5). */
export interface ForgeActor {
  kind: "forge";
  forge: "github" | "gitea";
  login: string;
}

export interface AuditRecord {
  principal: Principal | ForgeActor;
  action: AuditAction;
  repo?: string;
  runId?: string;
  detail?: Record<string, unknown>;
  ip?: string;
}

export class AuditLog {
  constructor(private readonly db: Queryable) {}

  async record(entry: AuditRecord, at: Date): Promise<void> {
    const p = entry.principal;
    if (p.kind === "anonymous") throw new Error(`audit: ${entry.action} needs a principal`);
    await this.db.query(
      `insert into audit_log (at, actor, actor_kind, user_id, action, repo, run_id, detail, ip) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [at, p.kind === "forge" ? `${p.forge}:${p.login}` : actorName(p), p.kind, p.kind === "user" ? p.user.id : null, entry.action, entry.repo ?? null, entry.runId ?? null, JSON.stringify(entry.detail ?? {}), entry.ip ?? null],
    );
  }

  /** Newest first; `before` is the id of the last entry of the previous page. */
  async list(filter: { limit: number; before?: number }): Promise<AuditEntry[]> {
    const { rows } = await this.db.query<{
      id: number;
      at: Date;
      actor: string;
      actor_kind: AuditEntry["actorKind"];
      user_id: string | null;
      action: AuditAction;
      repo: string | null;
      run_id: string | null;
      detail: Record<string, unknown>;
      ip: string | null;
    }>(`select id, at, actor, actor_kind, user_id, action, repo, run_id, detail, ip from audit_log where ($2::bigint is null or id < $2) order by id desc limit $1`, [
      filter.limit,
      filter.before ?? null,
    ]);
    return rows.map((r) => ({ id: Number(r.id), at: r.at.toISOString(), actor: r.actor, actorKind: r.actor_kind, userId: r.user_id, action: r.action, repo: r.repo, runId: r.run_id, detail: r.detail, ip: r.ip }));
  }
}
