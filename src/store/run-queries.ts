/** The read side: runs and stages as the HTTP API shows them (SPEC 3), from the projections. */
import type { Queryable } from "./database.js";

export interface StageView {
  id: string;
  name: string;
  needs: string[];
  status: string;
  conclusion: string | null;
  attempt: number;
  exitCode: number | null;
  /** Why the stage ended as it did, when that is not plain from the exit code ("timed out after 10s", "agent lost"). */
  reason: string | null;
  /**
   * A `queued` stage that also waits for something besides its needs:
   * `approval` (SPEC 6, a fork's stage with secrets), or `agent` for one with
   * `runs-on` labels, which only an agent with all of them takes (`runsOn`).
   */
  waitingFor: "approval" | "agent" | null;
  /** The stage's `runs-on` labels; empty: any agent. Only on the single-run view. */
  runsOn?: string[];
  startedAt: string | null;
  finishedAt: string | null;
}

export interface RunView {
  id: string;
  repo: string;
  sha: string;
  ref: string | null;
  event: string;
  pipeline: string;
  status: string;
  conclusion: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  stages?: StageView[];
}

interface RunRow {
  id: string;
  repo: string;
  sha: string;
  ref: string | null;
  event: string;
  pipeline: string;
  status: string;
  conclusion: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

interface StageRow {
  stage_id: string;
  name: string;
  needs: string[];
  status: string;
  conclusion: string | null;
  attempt: number;
  exit_code: number | null;
  reason: string | null;
  waiting_for: "approval" | null;
  started_at: Date | null;
  finished_at: Date | null;
}

const RUN_COLUMNS = `id, repo, sha, ref, event, pipeline, status, conclusion, created_at, started_at, finished_at`;

/**
 * Newest first. `before` is the keyset cursor of the last run of the previous
 * page (its createdAt and id): stable while new runs arrive, and an index scan
 * however deep the page. createdAt is written from JS dates (millisecond
 * precision), so its ISO text round-trips exactly.
 */
export async function listRuns(
  db: Queryable,
  filter: { repo?: string; limit: number; before?: { createdAt: string; id: string }; reader?: RunReader },
): Promise<RunView[]> {
  const { rows } = await db.query<RunRow>(
    `select ${RUN_COLUMNS} from runs
      where ($1::text is null or repo = $1)
        and ($3::timestamptz is null or (created_at, id) < ($3::timestamptz, $4::text))
        and ${readerCondition(5)}
      order by created_at desc, id desc
      limit $2`,
    [filter.repo ?? null, filter.limit, filter.before?.createdAt ?? null, filter.before?.id ?? null, ...readerParams(filter.reader)],
  );
  return rows.map(runView);
}

/**
 * Whose reading the runs list and the run endpoints are restricted to
 * (issue 17); absent: everybody's (the admin token, or a server without
 * sign-in). A user reads the repositories in their copy of the forge's
 * listing (`user_repo_access`), except runs another forge started; with
 * `publicRead`, anyone reads the repositories the forge says are public.
 */
export interface RunReader {
  userId: string | null;
  forge: string | null;
  publicRead: boolean;
}

function readerCondition(first: number): string {
  const [restricted, user, forge, pub] = [first, first + 1, first + 2, first + 3].map((n) => `$${n}`);
  return `(${restricted}::boolean is not true
    or (repo in (select a.repo from user_repo_access a where a.user_id = ${user}::text)
        and not exists (select 1 from forge_runs f where f.run_id = runs.id and f.forge <> ${forge}::text))
    or (${pub}::boolean and exists (select 1 from repo_visibility v where v.repo = runs.repo and not v.private
        and not exists (select 1 from forge_runs f where f.run_id = runs.id and f.forge <> v.forge))))`;
}

function readerParams(reader: RunReader | undefined): unknown[] {
  return reader ? [true, reader.userId, reader.forge, reader.publicRead] : [false, null, null, false];
}

/** The repository of run `runId` when `reader` may read it; null when the run is unknown or not theirs to read. */
export async function readableRunRepo(db: Queryable, runId: string, reader: RunReader | undefined): Promise<string | null> {
  const { rows } = await db.query<{ repo: string }>(`select repo from runs where id = $1 and ${readerCondition(2)}`, [runId, ...readerParams(reader)]);
  return rows[0]?.repo ?? null;
}

/** A run's recorded events, in order (the history the state is folded from). */
export async function listRunEvents(
  db: Queryable,
  runId: string,
): Promise<{ seq: number; type: string; data: unknown; at: string }[]> {
  const { rows } = await db.query<{ seq: number; type: string; data: unknown; at: Date }>(
    `select seq, type, data, at from run_events where run_id = $1 order by seq`,
    [runId],
  );
  return rows.map((r) => ({ seq: r.seq, type: r.type, data: r.data, at: r.at.toISOString() }));
}

export async function getRun(db: Queryable, runId: string): Promise<RunView | null> {
  const { rows } = await db.query<RunRow>(`select ${RUN_COLUMNS} from runs where id = $1`, [runId]);
  const row = rows[0];
  if (!row) return null;
  const stages = await db.query<StageRow>(
    `select stage_id, name, needs, status, conclusion, attempt, exit_code, reason, waiting_for, started_at, finished_at
       from run_stages where run_id = $1 order by position`,
    [runId],
  );
  // Labels are in the run's plan (its first event), not in the projection.
  const plan = await db.query<{ stages: { id: string; runsOn?: string[] }[] | null }>(`select data->'stages' as stages from run_events where run_id = $1 and seq = 1`, [runId]);
  const labels = new Map((plan.rows[0]?.stages ?? []).map((p) => [p.id, p.runsOn ?? []]));
  return {
    ...runView(row),
    stages: stages.rows.map((s) => {
      const view = stageView(s);
      const runsOn = labels.get(view.id) ?? [];
      return { ...view, runsOn, waitingFor: view.waitingFor ?? (view.status === "queued" && runsOn.length > 0 ? "agent" : null) };
    }),
  };
}

/** The log of a stage's latest attempt (or of `attempt`), in order. */
export async function readStageLog(
  db: Queryable,
  ref: { runId: string; stageId: string; attempt?: number },
  afterSeq = 0,
): Promise<{ attempt: number; chunks: { seq: number; data: string }[] }> {
  let attempt = ref.attempt;
  if (attempt === undefined) {
    const { rows } = await db.query<{ attempt: number }>(
      `select attempt from run_stages where run_id = $1 and stage_id = $2`,
      [ref.runId, ref.stageId],
    );
    attempt = rows[0]?.attempt ?? 1;
  }
  const { rows } = await db.query<{ seq: number; data: string }>(
    `select seq, data from log_chunks
      where run_id = $1 and stage_id = $2 and attempt = $3 and seq > $4
      order by seq`,
    [ref.runId, ref.stageId, attempt, afterSeq],
  );
  return { attempt, chunks: rows };
}

function runView(r: RunRow): RunView {
  return {
    id: r.id,
    repo: r.repo,
    sha: r.sha,
    ref: r.ref,
    event: r.event,
    pipeline: r.pipeline,
    status: r.status,
    conclusion: r.conclusion,
    createdAt: r.created_at.toISOString(),
    startedAt: r.started_at?.toISOString() ?? null,
    finishedAt: r.finished_at?.toISOString() ?? null,
  };
}

function stageView(s: StageRow): StageView {
  return {
    id: s.stage_id,
    name: s.name,
    needs: s.needs,
    status: s.status,
    conclusion: s.conclusion,
    attempt: s.attempt,
    exitCode: s.exit_code,
    reason: s.reason,
    waitingFor: s.waiting_for,
    startedAt: s.started_at?.toISOString() ?? null,
    finishedAt: s.finished_at?.toISOString() ?? null,
  };
}
