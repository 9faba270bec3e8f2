/**
 * The RunStore adapter over the store port: appends events under the
 * `(run_id, seq)` guard and keeps the `runs` / `run_stages` projections in
 * step, in the same transaction.
 */
import type { Database, Queryable } from "./database.js";
import type { AttemptRef, LogChunk, RunStore } from "../engine/ports.js";
import { ConcurrentAppendError } from "../engine/ports.js";
import type { RunEvent, RunEventBody } from "../saga/events.js";
import { applyEvent, initialState, replay, runStatus, stageStatus, type RunState, type StageState } from "../saga/run-state.js";

const UNIQUE_VIOLATION = "23505";

export class RunRepository implements RunStore {
  constructor(private readonly db: Database) {}

  async create(runId: string, planned: Extract<RunEventBody, { type: "run.planned" }>, at: string): Promise<RunState> {
    const event: RunEvent = { ...planned, seq: 1, at };
    const state = initialState(runId, event);
    const m = state.meta;
    await this.db.transaction(async (tx) => {
      await tx.query(
        `insert into runs (id, repo, sha, ref, event, pipeline, status, conclusion, last_seq, created_at)
         values ($1, $2, $3, $4, $5, $6, 'queued', null, 1, $7)`,
        [runId, m.repo, m.sha, m.ref, m.event, m.pipeline, at],
      );
      await insertEvent(tx, runId, event);
      let position = 0;
      for (const s of state.stages.values()) await upsertStage(tx, runId, position++, s);
    });
    return state;
  }

  async append(state: RunState, events: readonly RunEventBody[], at: string): Promise<RunState> {
    if (events.length === 0) return state;
    let next = state;
    const recorded: RunEvent[] = [];
    for (const body of events) {
      const event = { ...body, seq: next.seq + 1, at };
      next = applyEvent(next, event);
      recorded.push(event);
    }
    try {
      await this.db.transaction(async (tx) => {
        for (const event of recorded) await insertEvent(tx, state.id, event);
        const touched = new Set(recorded.flatMap((e) => ("stageId" in e.data ? [e.data.stageId] : [])));
        if (recorded.some((e) => e.type === "run.completed" || e.type === "run.cancel_requested")) {
          for (const id of next.stages.keys()) touched.add(id);
        }
        let position = 0;
        for (const s of next.stages.values()) {
          if (touched.has(s.plan.id)) await upsertStage(tx, state.id, position, s);
          position++;
        }
        await tx.query(
          `update runs set status = $2, conclusion = $3, last_seq = $4, started_at = $5, finished_at = $6 where id = $1`,
          [state.id, runStatus(next), next.conclusion, next.seq, next.startedAt, next.finishedAt],
        );
      });
    } catch (error) {
      if (isPgError(error) && error.code === UNIQUE_VIOLATION) throw new ConcurrentAppendError(state.id, state.seq + 1);
      throw error;
    }
    return next;
  }

  async load(runId: string): Promise<RunState | null> {
    const { rows } = await this.db.query<{ seq: number; type: string; data: unknown; at: Date }>(
      `select seq, type, data, at from run_events where run_id = $1 order by seq`,
      [runId],
    );
    if (rows.length === 0) return null;
    return replay(
      runId,
      rows.map((r) => ({ seq: r.seq, type: r.type, data: r.data, at: r.at.toISOString() }) as RunEvent),
    );
  }

  async unfinishedRunIds(): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>(
      `select id from runs where status <> 'completed' order by created_at`,
    );
    return rows.map((r) => r.id);
  }

  async appendLogs(ref: AttemptRef, chunks: readonly LogChunk[]): Promise<void> {
    if (chunks.length === 0) return;
    // A chunk re-sent after a reconnect has the same seq: keep the first copy.
    await this.db.query(
      `insert into log_chunks (run_id, stage_id, attempt, seq, data)
       select $1, $2, $3, c.seq, c.data
         from jsonb_to_recordset($4::jsonb) as c(seq integer, data text)
       on conflict do nothing`,
      [ref.runId, ref.stageId, ref.attempt, JSON.stringify(chunks)],
    );
  }
}

async function insertEvent(tx: Queryable, runId: string, event: RunEvent): Promise<void> {
  await tx.query(`insert into run_events (run_id, seq, type, data, at) values ($1, $2, $3, $4, $5)`, [
    runId,
    event.seq,
    event.type,
    JSON.stringify(event.data),
    event.at,
  ]);
}

async function upsertStage(tx: Queryable, runId: string, position: number, s: StageState): Promise<void> {
  await tx.query(
    `insert into run_stages (run_id, stage_id, position, name, needs, status, conclusion, attempt, exit_code, reason, started_at, finished_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     on conflict (run_id, stage_id) do update set
       status = excluded.status, conclusion = excluded.conclusion, attempt = excluded.attempt,
       exit_code = excluded.exit_code, reason = excluded.reason,
       started_at = excluded.started_at, finished_at = excluded.finished_at`,
    [
      runId,
      s.plan.id,
      position,
      s.plan.name,
      JSON.stringify(s.plan.needs),
      stageStatus(s),
      s.conclusion,
      Math.max(s.attempt, 1),
      s.exitCode,
      s.reason,
      s.startedAt,
      s.finishedAt,
    ],
  );
}

function isPgError(error: unknown): error is { code: string } {
  return typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string";
}
