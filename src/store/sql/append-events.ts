/**
 * Appends a run's events, upserts the stages they touched, stores the log
 * chunks that came with them and updates the run row, in one statement (one
 * round trip, atomic without a transaction): a call of hodei_append_events
 * (migrations/0008_append_events_function.sql), which keeps its plan for the
 * session. Its fence decides whether the writer may write at all:
 * - `owner`: only while `runs.owner` is this process;
 * - `external`: always (a cancel from another process);
 * - `claim`: when nobody owns the run, its owner lapsed, or it is completed.
 * When the fence fails nothing is written and it returns false. A second
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
  logs: { stage_id: string; attempt: number; seq: number; data: string }[];
}

const SQL = `select hodei_append_events($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) as written`;

/** Returns false when the fence refused the write. */
export async function appendEvents(db: Queryable, p: AppendEventsParams): Promise<boolean> {
  const { rows } = await db.query<{ written: boolean }>(SQL, [
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
    JSON.stringify(p.logs),
  ]);
  return rows[0]?.written === true;
}
