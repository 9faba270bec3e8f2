-- People signed in through a forge (issue 17): who they are, how they are
-- recognised (sessions, personal tokens: only SHA-256 hashes of the secrets
-- are kept), what the forge lets them read and write (a short-lived copy),
-- and an audit trail of what they did.

-- One row per forge account. The forge's OAuth token is sealed with the
-- server's secrets key (AES-256-GCM, the user id as additional data).
create table users (
  id               text primary key,
  forge            text not null check (forge in ('github', 'gitea')),
  forge_user_id    text not null,
  login            text not null,
  name             text,
  token_key_id     text not null,
  token_nonce      text not null,
  token_ciphertext text not null,
  token_tag        text not null,
  created_at       timestamptz not null,
  signed_in_at     timestamptz not null,
  -- When `user_repo_access` was last filled from the forge; null: never.
  access_fetched_at timestamptz,
  unique (forge, forge_user_id)
);

-- Dashboard sessions: the cookie holds the secret, the store its hash.
create table user_sessions (
  id_hash    bytea primary key,
  user_id    text not null references users (id) on delete cascade,
  csrf_token text not null,
  created_at timestamptz not null,
  expires_at timestamptz not null
);
create index user_sessions_expiry on user_sessions (expires_at);

-- Personal API tokens, created and revoked by their user.
create table user_tokens (
  id           text primary key,
  user_id      text not null references users (id) on delete cascade,
  token_hash   bytea not null unique,
  description  text not null default '',
  created_at   timestamptz not null,
  expires_at   timestamptz,
  last_used_at timestamptz,
  revoked_at   timestamptz
);
create index user_tokens_user on user_tokens (user_id, created_at desc);

-- A sign-in between the redirect to the forge and its callback: the state
-- (hashed) and the PKCE verifier, used once, until it expires.
create table sign_in_attempts (
  state_hash    bytea primary key,
  forge         text not null,
  code_verifier text not null,
  return_to     text not null default '/',
  created_at    timestamptz not null,
  expires_at    timestamptz not null
);
create index sign_in_attempts_expiry on sign_in_attempts (expires_at);

-- What a user may do on each repository the forge lists for them, as of
-- users.access_fetched_at. The runs list joins this table, so filtering
-- never asks the forge per run.
create table user_repo_access (
  user_id  text not null references users (id) on delete cascade,
  repo     text not null,
  can_push boolean not null,
  can_admin boolean not null,
  primary key (user_id, repo)
);

-- Whether a repository is public on its forge, from the forge's answers.
-- Unknown repositories count as private.
create table repo_visibility (
  forge      text not null,
  repo       text not null,
  private    boolean not null,
  updated_at timestamptz not null,
  primary key (forge, repo)
);

create table audit_log (
  id         bigint generated always as identity primary key,
  at         timestamptz not null,
  actor      text not null,
  actor_kind text not null check (actor_kind in ('admin', 'user')),
  user_id    text,
  action     text not null,
  repo       text,
  run_id     text,
  detail     jsonb not null default '{}',
  ip         text
);
create index audit_log_at on audit_log (at desc, id desc);
