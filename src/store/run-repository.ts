/**
 * The RunStore adapter over the store port: appends events under the
 * `(run_id, seq)` guard and keeps the `runs` / `run_stages` projections in
 * step, in the same transaction.
 */
import type { Database, Queryable } from "./database.js";
import type { AppendMode, AttemptLogs, AttemptRef, LogChunk, RunStore } from "../engine/ports.js";
import { ConcurrentAppendError, OwnershipLostError } from "../engine/ports.js";
import type { RunEvent, RunEventBody } from "../saga/events.js";
import { appendEvents, type AppendEventsParams } from "./sql/append-events.js";
import { applyEvents, initialState, replay, runStatus, stageStatus, waitingFor, type RunState, type StageState } from "../saga/run-state.js";

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
      await insertStages(tx, runId, [...state.stages.values()].map((s, position) => stageRow(position, state, s)));
    });
    return state;
  }

  async append(state: RunState, events: readonly RunEventBody[], at: string, mode: AppendMode = "owner", logs: readonly AttemptLogs[] = []): Promise<RunState> {
    if (events.length === 0) return state;
    const recorded = events.map((body, i) => ({ ...body, seq: state.seq + i + 1, at }));
    const next = applyEvents(state, recorded);
    const touched = new Set(recorded.flatMap((e) => ("stageId" in e.data ? [e.data.stageId] : [])));
    if (recorded.some((e) => e.type === "run.completed" || e.type === "run.cancel_requested" || e.type === "run.rerun_requested" || e.type === "run.approved")) {
      for (const id of next.stages.keys()) touched.add(id);
    }
    const positions = [...next.stages.keys()];
    try {
      const written = await appendEvents(this.db, {
        runId: state.id,
        mode,
        owner: this.owner,
        ownershipSeconds: this.ownershipSeconds,
        events: recorded.map((e) => ({ seq: e.seq, type: e.type, data: e.data, at: e.at })),
        stages: [...touched].map((id) => stageRow(positions.indexOf(id), next, next.stages.get(id)!)),
        run: { status: runStatus(next), conclusion: next.conclusion, lastSeq: next.seq, startedAt: next.startedAt, finishedAt: next.finishedAt },
        notify: { channel: CHANNEL, payload: `${state.id} ${next.seq} ${this.owner}` },
        logs: logs.flatMap((l) => l.chunks.map((c) => ({ stage_id: l.ref.stageId, attempt: l.ref.attempt, seq: c.seq, data: c.data }))),
      });
      if (!written) throw new OwnershipLostError(state.id);
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
    const [only] = chunks;
    if (chunks.length === 1 && only) {
      // What agents send (one chunk per message): the text as a plain parameter,
      // not copied into a JSON document that the database parses again.
      await this.db.query(
        `insert into log_chunks (run_id, stage_id, attempt, seq, data) values ($1, $2, $3, $4, $5)
         on conflict do nothing`,
        [ref.runId, ref.stageId, ref.attempt, only.seq, only.data],
      );
      return;
    }
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

function stageRow(position: number, run: RunState, s: StageState): AppendEventsParams["stages"][number] {
  return {
    stage_id: s.plan.id,
    position,
    name: s.plan.name,
    needs: s.plan.needs,
    status: stageStatus(s),
    conclusion: s.conclusion,
    attempt: Math.max(s.attempt, 1),
    exit_code: s.exitCode,
    reason: s.reason,
    waiting_for: waitingFor(run, s),
    started_at: s.startedAt,
    finished_at: s.finishedAt,
  };
}

async function insertStages(tx: Queryable, runId: string, rows: AppendEventsParams["stages"]): Promise<void> {
  await tx.query(
    `insert into run_stages (run_id, stage_id, position, name, needs, status, conclusion, attempt, exit_code, reason, waiting_for, started_at, finished_at)
     select $1, s.stage_id, s.position, s.name, s.needs, s.status, s.conclusion, s.attempt, s.exit_code, s.reason, s.waiting_for, s.started_at, s.finished_at
       from jsonb_to_recordset($2::jsonb) as s(stage_id text, position integer, name text, needs jsonb, status text, conclusion text,
                                              attempt integer, exit_code integer, reason text, waiting_for text, started_at timestamptz, finished_at timestamptz)`,
    [runId, JSON.stringify(rows)],
  );
}

function isPgError(error: unknown): error is { code: string } {
  return typeof error === "object" && error !== null && typeof (error as { code?: unknown }).code === "string";
}
