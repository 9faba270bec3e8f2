-- Repository secrets (SPEC 6), encrypted at rest with AES-256-GCM. The key
-- never enters the database; `key_id` names which key sealed a row, so a key
-- rotation can find the rows it still has to re-seal.

create table repo_secrets (
  repo       text not null,
  name       text not null,
  key_id     text not null,
  -- base64: 12-byte nonce, ciphertext, 16-byte GCM tag
  nonce      text not null,
  ciphertext text not null,
  tag        text not null,
  updated_at timestamptz not null,
  primary key (repo, name)
);
