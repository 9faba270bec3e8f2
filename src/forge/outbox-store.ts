/**
 * Table `forge_outbox` (migration 0010): the stage checks a forge still has
 * to be told about, with their retry schedule and who is posting them now.
 * Times are parameters (the worker's clock), never the database's `now()`.
 */
import type { Queryable } from "../store/database.js";
import type { ForgeKind } from "./forge.js";

/** A check to post: the run's stage, and the newest run event it must reflect. */
export interface ReportWanted {
  runId: string;
  stageId: string;
  forge: ForgeKind;
  seq: number;
}

export interface OutboxRow extends ReportWanted {
  /** Failed posts so far (reset when it is posted or a newer event arrives after giving up). */
  attempts: number;
}

export interface ReportKey {
  runId: string;
  stageId: string;
}

/** Who claims, and until when the claim holds. */
export interface OutboxClaim {
  owner: string;
  at: Date;
  expiresAt: Date;
}

/**
 * Records checks to post, due at `at`. An existing row keeps the greater
 * seq (an older event never lowers it) and its retry schedule; a row that
 * was given up is opened again, due at once, by a newer event only.
 */
export async function recordReports(db: Queryable, wanted: readonly ReportWanted[], at: Date): Promise<void> {
  if (wanted.length === 0) return;
  await db.query(
    `insert into forge_outbox (run_id, stage_id, forge, seq, next_attempt_at, updated_at)
     select w.run_id, w.stage_id, w.forge, w.seq, $2, $2
       from jsonb_to_recordset($1::jsonb) as w(run_id text, stage_id text, forge text, seq integer)
     on conflict (run_id, stage_id) do update set
       seq = greatest(forge_outbox.seq, excluded.seq),
       status = case when excluded.seq > forge_outbox.seq then 'pending' else forge_outbox.status end,
       attempts = case when forge_outbox.status = 'given_up' and excluded.seq > forge_outbox.seq then 0 else forge_outbox.attempts end,
       next_attempt_at = case when forge_outbox.status = 'given_up' and excluded.seq > forge_outbox.seq then excluded.next_attempt_at else forge_outbox.next_attempt_at end,
       updated_at = case when excluded.seq > forge_outbox.seq then excluded.updated_at else forge_outbox.updated_at end`,
    [JSON.stringify(wanted.map((w) => ({ run_id: w.runId, stage_id: w.stageId, forge: w.forge, seq: w.seq }))), at],
  );
}

/**
 * Claims up to `limit` pending rows due by `claim.at` whose claim is free or
 * lapsed (a dead or frozen server's), soonest due first. `skip locked` lets
 * several servers claim from one table without taking a row twice.
 */
export async function claimDueReports(db: Queryable, limit: number, claim: OutboxClaim): Promise<OutboxRow[]> {
  const { rows } = await db.query<{ run_id: string; stage_id: string; forge: ForgeKind; seq: number; attempts: number }>(
    `update forge_outbox o
        set claimed_by = $2, claim_expires_at = $3
      where (o.run_id, o.stage_id) in (
        select run_id, stage_id from forge_outbox
         where status = 'pending' and next_attempt_at <= $4
           and (claim_expires_at is null or claim_expires_at < $4)
         order by next_attempt_at
         limit $1
         for update skip locked)
     returning o.run_id, o.stage_id, o.forge, o.seq, o.attempts`,
    [limit, claim.owner, claim.expiresAt, claim.at],
  );
  return rows.map((r) => ({ runId: r.run_id, stageId: r.stage_id, forge: r.forge, seq: r.seq, attempts: r.attempts }));
}

/**
 * `owner` posted the run's state at `postedSeq`: the row goes, unless a
 * newer event raised its seq meanwhile; then it stays, due at once, unclaimed.
 */
export async function finishReport(db: Queryable, key: ReportKey, owner: string, postedSeq: number, at: Date): Promise<void> {
  const { rowCount } = await db.query(`delete from forge_outbox where run_id = $1 and stage_id = $2 and claimed_by = $3 and seq <= $4`, [
    key.runId,
    key.stageId,
    owner,
    postedSeq,
  ]);
  if (rowCount > 0) return;
  await db.query(
    `update forge_outbox set claimed_by = null, claim_expires_at = null, attempts = 0, last_error = null, next_attempt_at = $4, updated_at = $4
      where run_id = $1 and stage_id = $2 and claimed_by = $3`,
    [key.runId, key.stageId, owner, at],
  );
}

/** A failed post of `owner`'s: tried again at `nextAt`, with the reason kept. */
export async function rescheduleReport(db: Queryable, key: ReportKey, owner: string, attempts: number, nextAt: Date, error: string, at: Date): Promise<void> {
  await db.query(
    `update forge_outbox set claimed_by = null, claim_expires_at = null, attempts = $4, next_attempt_at = $5, last_error = $6, updated_at = $7
      where run_id = $1 and stage_id = $2 and claimed_by = $3`,
    [key.runId, key.stageId, owner, attempts, nextAt, error, at],
  );
}

/** The forge refused the post for good (404, 422): kept with the reason, not tried again until a newer event. */
export async function giveUpReport(db: Queryable, key: ReportKey, owner: string, attempts: number, error: string, at: Date): Promise<void> {
  await db.query(
    `update forge_outbox set status = 'given_up', claimed_by = null, claim_expires_at = null, attempts = $4, last_error = $5, updated_at = $6
      where run_id = $1 and stage_id = $2 and claimed_by = $3`,
    [key.runId, key.stageId, owner, attempts, error, at],
  );
}

/** Frees every claim of `owner`: a server restarting under its old identity holds nothing any more. */
export async function releaseOwnReports(db: Queryable, owner: string): Promise<number> {
  const { rowCount } = await db.query(`update forge_outbox set claimed_by = null, claim_expires_at = null where claimed_by = $1`, [owner]);
  return rowCount;
}

/** When the next pending row can be claimed (its due time, or its claim's expiry if later); null when none is pending. */
export async function nextReportDue(db: Queryable): Promise<Date | null> {
  const { rows } = await db.query<{ due: Date | null }>(
    `select min(greatest(next_attempt_at, coalesce(claim_expires_at, next_attempt_at))) as due from forge_outbox where status = 'pending'`,
  );
  return rows[0]?.due ?? null;
}

export async function pendingReports(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`select count(*)::int as n from forge_outbox where status = 'pending'`);
  return rows[0]?.n ?? 0;
}

export interface OutboxEntry extends OutboxRow {
  status: "pending" | "given_up";
  nextAttemptAt: Date;
  lastError: string | null;
  claimedBy: string | null;
}

/** What is in the outbox (tests, operators). */
export async function listReports(db: Queryable): Promise<OutboxEntry[]> {
  const { rows } = await db.query<{
    run_id: string;
    stage_id: string;
    forge: ForgeKind;
    seq: number;
    attempts: number;
    status: "pending" | "given_up";
    next_attempt_at: Date;
    last_error: string | null;
    claimed_by: string | null;
  }>(`select run_id, stage_id, forge, seq, attempts, status, next_attempt_at, last_error, claimed_by from forge_outbox order by run_id, stage_id`);
  return rows.map((r) => ({
    runId: r.run_id,
    stageId: r.stage_id,
    forge: r.forge,
    seq: r.seq,
    attempts: r.attempts,
    status: r.status,
    nextAttemptAt: r.next_attempt_at,
    lastError: r.last_error,
    claimedBy: r.claimed_by,
  }));
}

/**
 * Stage checks of forge runs unfinished or finished since `since` that lag behind their run:
 * no check stored, or one that reflects an older event than the run's last,
 * and nothing in the outbox for them. What reconciliation records again.
 */
export async function laggingChecks(db: Queryable, forges: readonly ForgeKind[], since: Date, limit: number): Promise<ReportWanted[]> {
  if (forges.length === 0) return [];
  const { rows } = await db.query<{ run_id: string; stage_id: string; forge: ForgeKind; seq: number }>(
    `select r.id as run_id, s.stage_id, f.forge, r.last_seq as seq
       from runs r
       join forge_runs f on f.run_id = r.id
       join run_stages s on s.run_id = r.id
       left join forge_checks c on c.run_id = r.id and c.name = r.pipeline || ' / ' || s.stage_id
       left join forge_outbox o on o.run_id = r.id and o.stage_id = s.stage_id
      where f.forge = any($1::text[])
        and (r.status <> 'completed' or coalesce(r.finished_at, r.created_at) >= $2)
        and (c.run_id is null or c.last_seq < r.last_seq)
        and o.run_id is null
      order by r.created_at, s.position
      limit $3`,
    [forges, since, limit],
  );
  return rows.map((r) => ({ runId: r.run_id, stageId: r.stage_id, forge: r.forge, seq: r.seq }));
}
