-- `forge_heads`: every head (a branch `refs/heads/X` or a pull request
-- `refs/pull/N/head`, at one commit) Hodei has acted on or seen. The push and
-- pull request handlers claim a head here before they start its run; the push
-- reconciler (src/triggers/push-reconciler.ts) starts a run only for a head
-- that has no row, so a webhook that arrives after the reconciler stood in
-- for it, or the other way round, starts nothing more. `delivery_id` is the
-- delivery that claimed it; null for a head only seen in a repository's first
-- listing (never built: Hodei does not build old branches).
create table forge_heads (
  forge       text not null,
  repo        text not null,
  ref         text not null,
  sha         text not null,
  delivery_id text,
  seen_at     timestamptz not null,
  primary key (forge, repo, ref, sha)
);

-- Heads of runs started before this table existed: a branch or pull request
-- Hodei built before counts as known to the reconciler.
insert into forge_heads (forge, repo, ref, sha, delivery_id, seen_at)
select f.forge, f.repo, r.ref, f.head_sha, f.delivery_id, f.created_at
  from forge_runs f join runs r on r.id = f.run_id
 where r.ref is not null
on conflict do nothing;

-- `forge_repo_scans`: when the reconciler last listed a repository's heads,
-- and by which server. A server scans a repository only when the last scan is
-- older than half the interval, so several servers on one store share the
-- forge calls instead of each making them. `baseline_at`: when its first
-- listing was recorded (heads unknown then are not built).
create table forge_repo_scans (
  forge       text not null,
  repo        text not null,
  scanned_at  timestamptz not null,
  scanned_by  text not null,
  baseline_at timestamptz,
  primary key (forge, repo)
);

-- Which repositories had activity recently: deliveries and runs by time.
create index webhook_deliveries_received on webhook_deliveries (received_at);
create index forge_runs_created on forge_runs (created_at);
