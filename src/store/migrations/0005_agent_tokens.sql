-- Tokens agents exchange for a client certificate (SPEC 7). Only a hash of
-- each token is kept. A bootstrap token (for a provisioned agent) works once
-- and expires; a registration token (created by the operator for standalone
-- agents) works until it expires or is revoked.
create table agent_tokens (
  id          text primary key,
  kind        text not null check (kind in ('bootstrap', 'registration')),
  token_hash  bytea not null unique,
  description text not null default '',
  created_at  timestamptz not null,
  expires_at  timestamptz,
  used_at     timestamptz,
  revoked_at  timestamptz
);

-- The certificate the agent was issued; connections must present exactly it.
alter table agents add column cert_fingerprint text;
