-- One random id per store, made with it. The control planes sharing a store
-- label the containers and pods they provision with it, so a control plane on
-- another store (same Docker engine or namespace) never takes them for its
-- own leftovers.
create table store_identity (
  only_row boolean primary key default true check (only_row),
  id       text not null
);
insert into store_identity (id) values (gen_random_uuid()::text);
