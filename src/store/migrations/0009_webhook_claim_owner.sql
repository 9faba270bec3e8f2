-- A claimed webhook delivery names the process working on it and until when
-- its claim holds (the graphile-worker model: locks freed by owner and age).
-- The owner renews the expiry while it still works on the delivery; any
-- process re-queues a claim whose expiry lapsed, and none touches a live one,
-- so several servers work off one queue and a dead one's claims are taken
-- over. A `processing` row from before this migration has no expiry: lapsed.
alter table webhook_deliveries
  add column claimed_by text,
  add column claim_expires_at timestamptz;
create index webhook_deliveries_claims on webhook_deliveries (claim_expires_at) where status = 'processing';
