-- Forge reports as a durable outbox (SPEC 4). One row per stage check of a
-- run that the forge does not yet show as the run's stored state says: the
-- listener writes it when the engine's events are stored, and reconciliation
-- at start and periodically writes it again for any run whose checks lag
-- behind its history, so a crash before either still ends reported.
--
-- `seq` is the newest run event the check must reflect (an upsert keeps the
-- greatest); the worker renders the check from the run's stored state, so it
-- always posts the newest state, and deletes the row once that state (or a
-- newer one) is posted. A failed post is tried again at `next_attempt_at`
-- with backoff; `given_up` only after a permanent refusal (404, 422), with
-- the reason in `last_error`, and a newer event opens it again.
--
-- `claimed_by` / `claim_expires_at` as the webhook claims of 0009: the
-- server posting a row holds it until its claim lapses, so two servers never
-- post one check at once, and a dead server's claims are taken over.
create table forge_outbox (
  run_id           text not null references runs (id) on delete cascade,
  stage_id         text not null,
  forge            text not null check (forge in ('github', 'gitea')),
  seq              integer not null,
  status           text not null default 'pending' check (status in ('pending', 'given_up')),
  attempts         integer not null default 0,
  next_attempt_at  timestamptz not null,
  last_error       text,
  claimed_by       text,
  claim_expires_at timestamptz,
  updated_at       timestamptz not null,
  primary key (run_id, stage_id)
);
create index forge_outbox_due on forge_outbox (next_attempt_at) where status = 'pending';
