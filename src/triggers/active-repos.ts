/**
 * The repositories the push reconciler looks at: those with a webhook
 * delivery or a run since a point in time, with how to reach them (clone URL,
 * GitHub App installation) from their newest delivery or run, and the claim a
 * server takes before listing one (table `forge_repo_scans`).
 */
import type { Queryable } from "../store/database.js";
import type { ForgeKind } from "../webhooks/delivery-store.js";

export interface ActiveRepo {
  forge: ForgeKind;
  /** `owner/name`. */
  fullName: string;
  cloneUrl: string;
  installationId: number | null;
}

/**
 * Up to `limit` repositories active since `since`, the ones listed longest
 * ago (or never) first, then the most recently active.
 */
export async function activeRepos(db: Queryable, since: Date, limit: number): Promise<ActiveRepo[]> {
  const { rows } = await db.query<{ forge: ForgeKind; repo: string; clone_url: string; installation_id: string | null }>(
    `with activity as (
       select forge, payload->'repository'->>'full_name' as repo, payload->'repository'->>'clone_url' as clone_url,
              case when jsonb_typeof(payload->'installation'->'id') = 'number' then (payload->'installation'->>'id')::bigint end as installation_id,
              received_at as at
         from webhook_deliveries where received_at >= $1
       union all
       select f.forge, f.repo, e.data->'trigger'->>'cloneUrl',
              case when jsonb_typeof(e.data->'trigger'->'installationId') = 'number' then (e.data->'trigger'->>'installationId')::bigint end,
              f.created_at
         from forge_runs f join run_events e on e.run_id = f.run_id and e.seq = 1
        where f.created_at >= $1),
     newest as (
       select distinct on (forge, repo) forge, repo, clone_url, installation_id, at
         from activity where repo is not null and clone_url is not null and forge in ('github', 'gitea')
        order by forge, repo, at desc)
     select n.forge, n.repo, n.clone_url, n.installation_id::text as installation_id
       from newest n left join forge_repo_scans s on s.forge = n.forge and s.repo = n.repo
      order by s.scanned_at asc nulls first, n.at desc
      limit $2`,
    [since, limit],
  );
  return rows.map((r) => ({ forge: r.forge, fullName: r.repo, cloneUrl: r.clone_url, installationId: r.installation_id === null ? null : Number(r.installation_id) }));
}

export type ScanClaim =
  /** This server lists the repository now; `baseline`: for the first time (its unknown heads are recorded, not built). */
  | { kind: "claimed"; baseline: boolean }
  /** Another server (or this one) listed it after `due`. */
  | { kind: "recent" };

/**
 * Claims the listing of `repo` for `owner` unless it was listed after `due`:
 * one statement, so of several servers only one lists a repository per period.
 */
export async function claimScan(db: Queryable, repo: { forge: string; fullName: string }, owner: string, at: Date, due: Date): Promise<ScanClaim> {
  const { rows } = await db.query<{ baseline_at: Date | null }>(
    `insert into forge_repo_scans as s (forge, repo, scanned_at, scanned_by) values ($1, $2, $3, $4)
     on conflict (forge, repo) do update set scanned_at = excluded.scanned_at, scanned_by = excluded.scanned_by
      where s.scanned_at <= $5
     returning s.baseline_at`,
    [repo.forge, repo.fullName, at, owner, due],
  );
  const row = rows[0];
  if (!row) return { kind: "recent" };
  return { kind: "claimed", baseline: row.baseline_at === null };
}

/** The repository's first listing is recorded: later ones build what is new. */
export async function markBaseline(db: Queryable, repo: { forge: string; fullName: string }, at: Date): Promise<void> {
  await db.query(`update forge_repo_scans set baseline_at = $3 where forge = $1 and repo = $2 and baseline_at is null`, [repo.forge, repo.fullName, at]);
}
