-- 0106_tom_targets_notify: a notification on channel `tom_targets_changed` when a
-- transaction changes targets or their aliases (any writer: the API of any
-- replica, the broker module, a hand-written statement). TOMs listening empty
-- their short-lived list cache on it (gateway/tom/api/list_cache.ts). Sent at
-- commit, once per transaction (PostgreSQL folds identical notifications).

create function tom_targets_notify() returns trigger language plpgsql as $$
begin
  perform pg_notify('tom_targets_changed', '');
  return null;
end $$;
create trigger tom_targets_notify after insert or update or delete or truncate on tom_targets
  for each statement execute function tom_targets_notify();
create trigger tom_target_names_notify after insert or update or delete or truncate
  on tom_target_names for each statement execute function tom_targets_notify();
