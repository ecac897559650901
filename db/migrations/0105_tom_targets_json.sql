-- 0105_tom_targets_json: each target's API representation (the JSON object of
-- `/api/targets/` results, TargetRow in store/targets.ts), kept with the row so
-- a list page is 50 stored strings joined, not 50 objects built per request.
-- Building them was most of PostgreSQL's time per page (json_agg of 50 rows with
-- three to_char and an alias look-up each: ~0.3 of 0.37 ms measured on 1M
-- targets). Always current: written by the triggers below in the transaction
-- that changes the target or its aliases. See docs/tom.md ("Speed").

alter table tom_targets add column api_json text;

-- The object, keys in TargetRow's order, timestamps as Date.prototype.toISOString
-- writes them. `extra_float_digits` pinned: ra/dec/score print as the shortest
-- exact decimal whatever the writing session set.
create function tom_target_api_json(t tom_targets) returns text
  language sql stable set extra_float_digits = 1 as $$
  select row_to_json(r)::text from (select t.id, t.name, t.type, t.ra, t.dec, t.epoch,
    t.permissions, t.groups, t.created_by, t.score,
    to_char(t.score_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as score_at,
    t.event_id,
    coalesce((select array_agg(n.name order by n.name) from tom_target_names n
              where n.target_id = t.id), '{}') as aliases,
    to_char(t.created at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created,
    to_char(t.modified at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as modified) r
$$;

create function tom_targets_api_json() returns trigger language plpgsql as $$
begin
  new.api_json := tom_target_api_json(new);
  return new;
end $$;
create trigger tom_targets_api_json before insert or update on tom_targets
  for each row execute function tom_targets_api_json();

-- An alias added, renamed or removed: the target's object is written again (the
-- update fires the trigger above; a target being deleted is not found, nothing to do).
create function tom_target_names_api_json() returns trigger language plpgsql as $$
begin
  if tg_op in ('INSERT', 'UPDATE') then
    update tom_targets set api_json = null where id = new.target_id;
  end if;
  if tg_op in ('DELETE', 'UPDATE') then
    update tom_targets set api_json = null where id = old.target_id
      and (tg_op = 'DELETE' or old.target_id <> new.target_id);
  end if;
  return null;
end $$;
create trigger tom_target_names_api_json after insert or update or delete on tom_target_names
  for each row execute function tom_target_names_api_json();

-- Existing targets (readers also fall back to tom_target_api_json for a null).
update tom_targets set api_json = null;
