-- `pipeline_schedules`: the cron schedules of `on.schedule`, one row per
-- schedule of a repository's branch, as the pipeline file on that branch's
-- head defines them. Written when a push to the branch is planned: the
-- branch's rows become the head's schedules (none when the head has no valid
-- pipeline file). `schedule_key` names a schedule across pushes (a digest of
-- its cron, branch and time zone); `since` is when it was first recorded, so
-- a slot before it never fires; `head_sha` is the commit a slot runs.
create table pipeline_schedules (
  forge           text not null check (forge in ('github', 'gitea')),
  repo            text not null,
  schedule_key    text not null,
  branch          text not null,
  cron            text not null,
  timezone        text not null,
  head_sha        text not null,
  clone_url       text not null,
  installation_id bigint,
  since           timestamptz not null,
  updated_at      timestamptz not null,
  primary key (forge, repo, schedule_key)
);
create index pipeline_schedules_branch on pipeline_schedules (forge, repo, branch);

-- `schedule_slots`: each slot (a schedule at one time) that fired. A server
-- claims a slot by inserting its row, `on conflict do nothing`, in the same
-- statement as the slot's delivery (event `hodei.schedule`, handled like a
-- webhook's): of several servers on one store exactly one fires it, and a
-- restarted server does not fire it again. Only a schedule's newest slot can
-- fire, so older claims are dropped a day after a newer one (and with their
-- schedule).
create table schedule_slots (
  forge        text not null,
  repo         text not null,
  schedule_key text not null,
  slot         timestamptz not null,
  claimed_by   text not null,
  claimed_at   timestamptz not null,
  delivery_id  text not null,
  primary key (forge, repo, schedule_key, slot)
);
