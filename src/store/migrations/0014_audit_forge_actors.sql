-- Comment commands (`/hodei retry`, `cancel`, `approve`, `run`) act for a
-- forge account that need not have signed in to Hodei: the audit trail
-- records them as actor_kind 'forge', the actor as the forge names them
-- ("github:octocat"), with no user id.
alter table audit_log drop constraint audit_log_actor_kind_check;
alter table audit_log add constraint audit_log_actor_kind_check check (actor_kind in ('admin', 'user', 'forge'));
