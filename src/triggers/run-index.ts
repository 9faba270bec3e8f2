/**
 * Which forge object a run belongs to: table `forge_runs` (pull request and
 * head), `fork_approvals`, and the trigger recorded in the run's history.
 */
import type { RunTrigger } from "../saga/events.js";
import type { Queryable } from "../store/database.js";

export interface ForgeRunRow {
  runId: string;
  headSha: string;
  prNumber: number | null;
  status: string;
}

export async function recordForgeRun(
  db: Queryable,
  r: { runId: string; forge: string; repo: string; headSha: string; prNumber: number | null; deliveryId: string | null },
  at: Date,
): Promise<void> {
  await db.query(
    `insert into forge_runs (run_id, forge, repo, head_sha, pr_number, delivery_id, created_at) values ($1, $2, $3, $4, $5, $6, $7)
     on conflict (run_id) do nothing`,
    [r.runId, r.forge, r.repo, r.headSha, r.prNumber, r.deliveryId, at],
  );
}

/** Runs of a pull request, newest first, with their status from the projection. */
export async function pullRequestRuns(db: Queryable, forge: string, repo: string, prNumber: number): Promise<ForgeRunRow[]> {
  const { rows } = await db.query<{ run_id: string; head_sha: string; pr_number: number | null; status: string }>(
    `select f.run_id, f.head_sha, f.pr_number, r.status
       from forge_runs f join runs r on r.id = f.run_id
      where f.forge = $1 and f.repo = $2 and f.pr_number = $3
      order by f.created_at desc`,
    [forge, repo, prNumber],
  );
  return rows.map((r) => ({ runId: r.run_id, headSha: r.head_sha, prNumber: r.pr_number, status: r.status }));
}

/** The newest run for a commit of a repository, if any. */
export async function latestRunFor(db: Queryable, forge: string, repo: string, headSha: string): Promise<ForgeRunRow | null> {
  const { rows } = await db.query<{ run_id: string; head_sha: string; pr_number: number | null; status: string }>(
    `select f.run_id, f.head_sha, f.pr_number, r.status
       from forge_runs f join runs r on r.id = f.run_id
      where f.forge = $1 and f.repo = $2 and f.head_sha = $3
      order by f.created_at desc limit 1`,
    [forge, repo, headSha],
  );
  const r = rows[0];
  return r ? { runId: r.run_id, headSha: r.head_sha, prNumber: r.pr_number, status: r.status } : null;
}

/** True if a run was already started for this delivery (a crash after starting it, before finishing the delivery). */
export async function runForDelivery(db: Queryable, forge: string, deliveryId: string): Promise<string | null> {
  const { rows } = await db.query<{ run_id: string }>(`select run_id from forge_runs where forge = $1 and delivery_id = $2 limit 1`, [forge, deliveryId]);
  return rows[0]?.run_id ?? null;
}

export async function approve(db: Queryable, a: { forge: string; repo: string; headSha: string; by: string }, at: Date): Promise<void> {
  await db.query(
    `insert into fork_approvals (forge, repo, head_sha, approved_by, approved_at) values ($1, $2, $3, $4, $5)
     on conflict (forge, repo, head_sha) do nothing`,
    [a.forge, a.repo, a.headSha, a.by, at],
  );
}

export async function isApproved(db: Queryable, forge: string, repo: string, headSha: string): Promise<boolean> {
  const { rows } = await db.query(`select 1 from fork_approvals where forge = $1 and repo = $2 and head_sha = $3`, [forge, repo, headSha]);
  return rows.length > 0;
}

/** The forge trigger recorded in a run's `run.planned` event; null for CLI and API runs. */
export async function runTrigger(db: Queryable, runId: string): Promise<RunTrigger | null> {
  const { rows } = await db.query<{ trigger: RunTrigger | null }>(`select data->'trigger' as trigger from run_events where run_id = $1 and seq = 1`, [runId]);
  return rows[0]?.trigger ?? null;
}
