-- Agents survive a restart of the control plane: a reconnecting agent keeps
-- its id, so the attempts it still runs stay its own.
create table agents (
  id            text primary key,
  secret_hash   bytea not null,
  labels        jsonb not null,
  capacity      integer not null,
  hostname      text not null,
  registered_at timestamptz not null,
  last_seen_at  timestamptz not null
);

-- Each unfinished run is driven by one control-plane process at a time. The
-- owner renews `owner_expires_at`; once it lapses another process may claim
-- the run. Appends by the owner are fenced on `owner`, so a process that lost
-- a run cannot write to it any more.
alter table runs add column owner text;
alter table runs add column owner_expires_at timestamptz;
create index runs_claimable on runs (owner_expires_at) where status <> 'completed';
