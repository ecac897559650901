-- 0102_tom_targets_speed: what `/api/targets/` needs to stay fast on millions of
-- targets (issue 8's bench). See docs/tom.md ("Speed").

-- The archive's sky index (db/healpix_index.ts): the HEALPix NESTED pixel at
-- order 24, written by the code that writes ra/dec (store/targets.ts). A cone
-- search is a few btree range scans on it. NULL = not indexed yet (rows written
-- before this migration, or by hand): found through the (dec, ra) index below
-- and filled in by the TOM at start-up (store/sky_index.ts).
alter table tom_targets add column hpx bigint;
create index tom_targets_hpx_idx on tom_targets (hpx);
create index tom_targets_unindexed_idx on tom_targets (dec, ra) where hpx is null;

-- The targets in order-24 index ranges [lo[i], hi[i]] (a cone's, from
-- coneRanges): one btree range scan per range. A function because the planner
-- cannot know how narrow a range parameter is: it guesses a ninth of the table
-- per range, picks a sequential scan and JIT-compiles it (~30 ms and ~700 ms
-- measured on 1M targets, against ~0.1 ms for the range scans).
create function tom_targets_in_ranges(lo bigint[], hi bigint[]) returns setof tom_targets
  language plpgsql stable rows 100 set enable_seqscan = off set jit = off as $$
begin
  return query select t.* from unnest(lo, hi) as r(lo, hi)
    join tom_targets t on t.hpx between r.lo and r.hi;
end $$;

-- A position changed without a new pixel: the old pixel would be wrong, so forget it.
create function tom_targets_hpx_stale() returns trigger language plpgsql as $$
begin
  if (new.ra is distinct from old.ra or new.dec is distinct from old.dec)
     and new.hpx is not distinct from old.hpx then
    new.hpx := null;
  end if;
  return new;
end $$;
create trigger tom_targets_hpx_stale before update of ra, dec on tom_targets
  for each row execute function tom_targets_hpx_stale();

-- PRIVATE targets a viewer may see: by creator or by group (the rest is PUBLIC/OPEN).
create index tom_targets_private_creator_idx on tom_targets (created_by)
  where permissions = 'PRIVATE';
create index tom_targets_private_groups_idx on tom_targets using gin (groups)
  where permissions = 'PRIVATE';
-- How many PRIVATE targets a viewer may see, counting stops at `cap` rows. A
-- function with a fixed plan (the two partial indexes above): inlined, its
-- parameter-dependent estimate kept PostgreSQL from reusing the plan of the
-- whole list statement, which it then planned again on every request.
create function tom_private_targets_visible(subject text, member_of text[], cap integer)
  returns bigint language plpgsql stable set plan_cache_mode = force_generic_plan as $$
begin
  return (select count(*) from (select 1 from tom_targets t
    where t.permissions = 'PRIVATE' and (t.created_by = subject or t.groups && member_of)
    limit cap) s);
end $$;
-- The list's order (id) with the permission columns: pages filter PRIVATE rows on
-- the index alone (an index-only scan) and visit the table for the page's rows only.
create index tom_targets_list_idx on tom_targets (id) include (permissions, created_by, groups);

-- Sorted lists (the web pages' columns, store/targets.ts orderBy): the best-scored
-- first with unscored last, and by RA (name, dec and created have indexes already).
create index tom_targets_score_list_idx on tom_targets (score desc nulls last, id);
create index tom_targets_ra_idx on tom_targets (ra);

-- The number of targets and of PRIVATE ones, kept by statement-level triggers so
-- an unfiltered list's `count` is exact without counting the table. One row:
-- writers that change the counts queue on it until they commit (score and other
-- updates that keep the permissions do not touch it).
create table tom_target_counts (
  one      boolean primary key default true check (one),
  total    bigint not null,
  private  bigint not null
);
insert into tom_target_counts (total, private)
  select count(*), count(*) filter (where permissions = 'PRIVATE') from tom_targets;

create function tom_target_counts_insert() returns trigger language plpgsql as $$
declare d_total bigint; d_private bigint;
begin
  select count(*), count(*) filter (where permissions = 'PRIVATE') into d_total, d_private
    from new_rows;
  if d_total <> 0 then
    update tom_target_counts set total = total + d_total, private = private + d_private;
  end if;
  return null;
end $$;
create function tom_target_counts_delete() returns trigger language plpgsql as $$
declare d_total bigint; d_private bigint;
begin
  select count(*), count(*) filter (where permissions = 'PRIVATE') into d_total, d_private
    from old_rows;
  if d_total <> 0 then
    update tom_target_counts set total = total - d_total, private = private - d_private;
  end if;
  return null;
end $$;
create function tom_target_counts_update() returns trigger language plpgsql as $$
declare d_private bigint;
begin
  select (select count(*) from new_rows where permissions = 'PRIVATE')
       - (select count(*) from old_rows where permissions = 'PRIVATE') into d_private;
  if d_private <> 0 then
    update tom_target_counts set private = private + d_private;
  end if;
  return null;
end $$;
create function tom_target_counts_truncate() returns trigger language plpgsql as $$
begin
  update tom_target_counts set total = 0, private = 0;
  return null;
end $$;
create trigger tom_target_counts_insert after insert on tom_targets
  referencing new table as new_rows for each statement
  execute function tom_target_counts_insert();
create trigger tom_target_counts_delete after delete on tom_targets
  referencing old table as old_rows for each statement
  execute function tom_target_counts_delete();
create trigger tom_target_counts_update after update on tom_targets
  referencing old table as old_rows new table as new_rows for each statement
  execute function tom_target_counts_update();
create trigger tom_target_counts_truncate after truncate on tom_targets
  for each statement execute function tom_target_counts_truncate();
