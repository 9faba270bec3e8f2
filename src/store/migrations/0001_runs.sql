-- Runs as event-sourced sagas. `run_events` is the source of truth; `runs`
-- and `run_stages` are projections written in the same transaction as the
-- events they reflect, so readers never see one without the other.

create table runs (
  id          text primary key,
  repo        text not null,
  sha         text not null,
  ref         text,
  event       text not null,
  pipeline    text not null,
  status      text not null check (status in ('queued', 'in_progress', 'completed')),
  conclusion  text,
  last_seq    integer not null,
  created_at  timestamptz not null,
  started_at  timestamptz,
  finished_at timestamptz
);
create index runs_created_at on runs (created_at desc);
create index runs_repo_created_at on runs (repo, created_at desc);
create index runs_unfinished on runs (created_at) where status <> 'completed';

create table run_events (
  run_id text not null references runs (id) on delete cascade,
  seq    integer not null check (seq > 0),
  type   text not null,
  data   jsonb not null,
  at     timestamptz not null,
  -- The optimistic-concurrency guard: two writers deciding from the same
  -- state both try seq N + 1, and one of them gets a unique violation.
  primary key (run_id, seq)
);

create table run_stages (
  run_id      text not null references runs (id) on delete cascade,
  stage_id    text not null,
  position    integer not null,
  name        text not null,
  needs       jsonb not null,
  status      text not null,
  conclusion  text,
  attempt     integer not null,
  exit_code   integer,
  reason      text,
  started_at  timestamptz,
  finished_at timestamptz,
  primary key (run_id, stage_id)
);

-- Stage output, per attempt, in the agent's batch order.
create table log_chunks (
  run_id   text not null references runs (id) on delete cascade,
  stage_id text not null,
  attempt  integer not null,
  seq      integer not null,
  data     text not null,
  primary key (run_id, stage_id, attempt, seq)
);
