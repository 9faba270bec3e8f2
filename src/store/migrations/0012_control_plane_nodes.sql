-- The control-plane processes sharing this store, so agents of one that died
-- can reach another (fail-over). Each process announces the address its
-- agents dial and the certificate of its CA (public: never a key), and renews
-- `expires_at` while it lives; a row whose expiry lapsed is a dead process.
-- Servers trust their peers' CAs for agents' client certificates (each still
-- pinned to the fingerprint recorded at registration), and tell their agents
-- the live peers to dial when their own server is gone.
create table control_plane_nodes (
  node_id       text primary key,
  agent_address text not null,
  ca_cert_pem   text not null,
  expires_at    timestamptz not null
);
