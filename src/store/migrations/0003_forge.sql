-- Forge integration (SPEC 3 to 6).
--
-- `webhook_deliveries`: every accepted delivery, stored before the forge gets
-- its 202, so processing survives a crash between the answer and the work.
-- The primary key makes a redelivery (same forge, same delivery id) a no-op.
create table webhook_deliveries (
  forge        text not null check (forge in ('github', 'gitea')),
  delivery_id  text not null,
  event        text not null,
  payload      jsonb not null,
  received_at  timestamptz not null,
  status       text not null check (status in ('pending', 'processing', 'done', 'ignored', 'failed')),
  attempts     integer not null default 0,
  claimed_at   timestamptz,
  finished_at  timestamptz,
  outcome      text,
  primary key (forge, delivery_id)
);
create index webhook_deliveries_open on webhook_deliveries (received_at) where status in ('pending', 'processing');

-- Which forge object a run was started for: pull request runs are found
-- here to supersede or cancel them, and a check's re-run finds its run.
create table forge_runs (
  run_id      text primary key references runs (id) on delete cascade,
  forge       text not null,
  repo        text not null,
  head_sha    text not null,
  pr_number   integer,
  delivery_id text,
  created_at  timestamptz not null
);
create index forge_runs_pr on forge_runs (forge, repo, pr_number, created_at desc) where pr_number is not null;
create index forge_runs_sha on forge_runs (forge, repo, head_sha, created_at desc);

-- The forge's id of each check run Hodei created (GitHub check runs), and
-- the seq of the run event the forge last saw for it: an update with an
-- older seq is never sent after a newer one.
create table forge_checks (
  run_id      text not null references runs (id) on delete cascade,
  name        text not null,
  external_id text,
  last_seq    integer not null,
  primary key (run_id, name)
);

-- `/hodei approve` on a fork's pull request, for one head SHA (SPEC 6).
create table fork_approvals (
  forge       text not null,
  repo        text not null,
  head_sha    text not null,
  approved_by text not null,
  approved_at timestamptz not null,
  primary key (forge, repo, head_sha)
);
