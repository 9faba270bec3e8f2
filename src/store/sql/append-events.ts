/**
 * Appends a run's events, upserts the stages they touched and updates the
 * run row, in one statement (one round trip, atomic without a transaction).
 * The `fence` CTE decides whether the writer may write at all:
 * - `owner`: only while `runs.owner` is this process;
 * - `external`: always (a cancel from another process);
 * - `claim`: when nobody owns the run, its owner lapsed, or it is completed.
 * When the fence fails nothing is written and no row is returned. A second
 * writer deciding from the same state fails on `run_events`' primary key.
 */
import type { Queryable } from "../database.js";

export interface AppendEventsParams {
  runId: string;
  mode: "owner" | "external" | "claim";
  owner: string;
  ownershipSeconds: number;
  events: { seq: number; type: string; data: unknown; at: string }[];
  stages: {
    stage_id: string;
    position: number;
    name: string;
    needs: string[];
    status: string;
    conclusion: string | null;
    attempt: number;
    exit_code: number | null;
    reason: string | null;
    waiting_for: string | null;
    started_at: string | null;
    finished_at: string | null;
  }[];
  run: { status: string; conclusion: string | null; lastSeq: number; startedAt: string | null; finishedAt: string | null };
  notify: { channel: string; payload: string };
}

const SQL = `
with fence as (
  select id from runs
   where id = $1
     and ($2 = 'external'
          or ($2 = 'owner' and owner = $3)
          or ($2 = 'claim' and (owner is null or owner = $3 or owner_expires_at < now() or status = 'completed')))
   for update
), appended as (
  insert into run_events (run_id, seq, type, data, at)
  select $1, e.seq, e.type, e.data, e.at
    from jsonb_to_recordset($5::jsonb) as e(seq integer, type text, data jsonb, at timestamptz)
   where exists (select 1 from fence)
), staged as (
  insert into run_stages (run_id, stage_id, position, name, needs, status, conclusion, attempt, exit_code, reason, waiting_for, started_at, finished_at)
  select $1, s.stage_id, s.position, s.name, s.needs, s.status, s.conclusion, s.attempt, s.exit_code, s.reason, s.waiting_for, s.started_at, s.finished_at
    from jsonb_to_recordset($6::jsonb) as s(stage_id text, position integer, name text, needs jsonb, status text, conclusion text,
                                           attempt integer, exit_code integer, reason text, waiting_for text, started_at timestamptz, finished_at timestamptz)
   where exists (select 1 from fence)
  on conflict (run_id, stage_id) do update set
    status = excluded.status, conclusion = excluded.conclusion, attempt = excluded.attempt,
    exit_code = excluded.exit_code, reason = excluded.reason, waiting_for = excluded.waiting_for,
    started_at = excluded.started_at, finished_at = excluded.finished_at
)
update runs
   set status = $7, conclusion = $8, last_seq = $9, started_at = $10, finished_at = $11,
       owner = case when $2 = 'claim' then $3 else owner end,
       owner_expires_at = case when $2 = 'claim' then now() + make_interval(secs => $4) else owner_expires_at end
 where id in (select id from fence)
returning pg_notify($12, $13)::text as notified`;

/** Returns false when the fence refused the write. */
export async function appendEvents(db: Queryable, p: AppendEventsParams): Promise<boolean> {
  const { rowCount } = await db.query(SQL, [
    p.runId,
    p.mode,
    p.owner,
    p.ownershipSeconds,
    JSON.stringify(p.events),
    JSON.stringify(p.stages),
    p.run.status,
    p.run.conclusion,
    p.run.lastSeq,
    p.run.startedAt,
    p.run.finishedAt,
    p.notify.channel,
    p.notify.payload,
  ]);
  return rowCount === 1;
}
