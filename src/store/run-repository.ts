/**
 * The RunStore adapter over the store port: appends events under the
 * `(run_id, seq)` guard and keeps the `runs` / `run_stages` projections in
 * step, in the same transaction.
 */
import type { Database, Queryable } from "./database.js";
import type { AppendMode, AttemptRef, LogChunk, RunStore } from "../engine/ports.js";
import { ConcurrentAppendError, OwnershipLostError } from "../engine/ports.js";
import type { RunEvent, RunEventBody } from "../saga/events.js";
import { applyEvent, initialState, replay, runStatus, stageStatus, type RunState, type StageState } from "../saga/run-state.js";

const UNIQUE_VIOLATION = "23505";
const CHANNEL = "hodei_runs";

export interface RunRepositoryOptions {
  /** This process's identity as a run owner. */
  owner?: string;
  /** How long ownership lasts without renewal. */
  ownershipMs?: number;
}

export class RunRepository implements RunStore {
  readonly owner: string;
  private readonly ownershipSeconds: number;

  constructor(
    private readonly db: Database,
    options: RunRepositoryOptions = {},
  ) {
    this.owner = options.owner ?? "embedded";
    this.ownershipSeconds = (options.ownershipMs ?? 15_000) / 1000;
  }

  async create(runId: string, planned: Extract<RunEventBody, { type: "run.planned" }>, at: string): Promise<RunState> {
    const event: RunEvent = { ...planned, seq: 1, at };
    const state = initialState(runId, event);
    const m = state.meta;
    await this.db.transaction(async (tx) => {
      await tx.query(
        `insert into runs (id, repo, sha, ref, event, pipeline, status, conclusion, last_seq, created_at, owner, owner_expires_at)
         values ($1, $2, $3, $4, $5, $6, 'queued', null, 1, $7, $8, now() + make_interval(secs => $9))`,
        [runId, m.repo, m.sha, m.ref, m.event, m.pipeline, at, this.owner, this.ownershipSeconds],
      );
      await insertEvent(tx, runId, event);
      let position = 0;
      for (const s of state.stages.values()) await upsertStage(tx, runId, position++, s);
    });
    return state;
  }

  async append(state: RunState, events: readonly RunEventBody[], at: string, mode: AppendMode = "owner"): Promise<RunState> {
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
        // The fence: the owner's writes land only while it still owns the run.
        const updated = await tx.query(
          `update runs set status = $2, conclusion = $3, last_seq = $4, started_at = $5, finished_at = $6,
                  owner = case when $7 = 'claim' then $8 else owner end,
                  owner_expires_at = case when $7 = 'claim' then now() + make_interval(secs => $9) else owner_expires_at end
            where id = $1
              and ($7 = 'external'
                   or ($7 = 'owner' and owner = $8)
                   or ($7 = 'claim' and (owner is null or owner = $8 or owner_expires_at < now() or status = 'completed')))`,
          [state.id, runStatus(next), next.conclusion, next.seq, next.startedAt, next.finishedAt, mode, this.owner, this.ownershipSeconds],
        );
        if (updated.rowCount !== 1) throw new OwnershipLostError(state.id);
        await tx.query(`select pg_notify($1, $2)`, [CHANNEL, `${state.id} ${next.seq} ${this.owner}`]);
      });
    } catch (error) {
      if (isPgError(error) && error.code === UNIQUE_VIOLATION) throw new ConcurrentAppendError(state.id, state.seq + 1);
      throw error;
    }
    return next;
  }

  async claimRuns(): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string; created_at: Date }>(
      `update runs set owner = $1, owner_expires_at = now() + make_interval(secs => $2)
        where id in (select id from runs
                      where status <> 'completed'
                        and (owner is null or owner = $1 or owner_expires_at < now())
                      order by created_at
                      for update skip locked)
        returning id, created_at`,
      [this.owner, this.ownershipSeconds],
    );
    return rows.sort((a, b) => a.created_at.getTime() - b.created_at.getTime()).map((r) => r.id);
  }

  async renewOwnership(): Promise<{ runId: string; lastSeq: number }[]> {
    const { rows } = await this.db.query<{ id: string; last_seq: number }>(
      `update runs set owner_expires_at = now() + make_interval(secs => $2)
        where owner = $1 and status <> 'completed'
        returning id, last_seq`,
      [this.owner, this.ownershipSeconds],
    );
    return rows.map((r) => ({ runId: r.id, lastSeq: r.last_seq }));
  }

  async watchRuns(listener: (runId: string) => void): Promise<() => Promise<void>> {
    return this.db.listen(CHANNEL, (payload) => {
      const [runId, , writer] = payload.split(" ");
      if (runId && writer !== this.owner) listener(runId);
    });
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
