-- Fork approval stage by stage (SPEC 6).
--
-- `run_stages.waiting_for`: what a stage the API shows as `queued` waits for
-- besides its needs: 'approval' while it lists secrets in a fork's pull
-- request run that no writer has approved yet; null otherwise.
alter table run_stages add column waiting_for text check (waiting_for in ('approval'));

-- `forge_checks.shown`: what the forge last showed for the check
-- (status/conclusion/attempt). A check that was completed (or
-- action_required) and must show progress again is created anew rather than
-- reopened; kept in the store so a restarted server knows it too.
alter table forge_checks add column shown text;
