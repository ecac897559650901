-- 0107_tom_targets_cone: a cone search's rows in one function call (issue 8's
-- bench, docs/tom.md "Speed"): the HEALPix range scans, the exact distance and
-- the rows not indexed yet, returning only the columns a list filters, sorts
-- and answers with. Measured on 1M targets (r = 0.5°, 56 candidate rows, 27 in
-- the cone), PostgreSQL's CPU per cone statement 155 → ~115 µs:
--   * plain index scans per range: the generic plan inside
--     tom_targets_in_ranges (0102) was a bitmap heap scan per range (a TID
--     bitmap built, prefetched and walked for ~5 rows, 11 times a request);
--   * the distance is tested inside, on the scan, before rows are copied out
--     of the function (was: every candidate row copied, whole, into the
--     function's result and then into the statement's CTE, then tested);
--   * 10 narrow columns instead of every column (api_json included) twice.
-- The planner settings are the function's own, as in 0102: it cannot know how
-- narrow a range parameter is and would otherwise scan the table (and JIT it).
-- The distance expression is the one of gateway/tom/store/sky.ts distanceSql,
-- operation for operation, so a row is in the cone exactly when it was before.
-- Rows without `hpx` (not indexed yet, 0102) are found on their partial index
-- within the cone's declination band and two RA intervals (the second one
-- empty unless the window wraps at 0/360°; sky.ts coneWindows).
-- The cone's numbers come as one float8[] (fewer parameters for the client to
-- serialise and bind): {ra, dec, radius, dec_lo, dec_hi, ra_lo1, ra_hi1,
-- ra_lo2, ra_hi2}, degrees.
create function tom_targets_in_cone(lo bigint[], hi bigint[], cone float8[])
  returns table (id bigint, name text, ra float8, "dec" float8, score float8,
    created timestamptz, permissions text, created_by text, groups text[], api_json text)
  language plpgsql stable rows 100
  set enable_seqscan = off set enable_bitmapscan = off set jit = off as $$
declare
  c_ra float8 := cone[1];
  c_dec float8 := cone[2];
  c_radius float8 := cone[3];
  dec_lo float8 := cone[4];
  dec_hi float8 := cone[5];
  ra_lo1 float8 := cone[6];
  ra_hi1 float8 := cone[7];
  ra_lo2 float8 := cone[8];
  ra_hi2 float8 := cone[9];
begin
  if array_length(cone, 1) is distinct from 9 then
    raise exception 'tom_targets_in_cone: cone must hold 9 numbers (ra, dec, radius, dec_lo, '
      'dec_hi, ra_lo1, ra_hi1, ra_lo2, ra_hi2), got %', cone;
  end if;
  return query
    select t.id, t.name, t.ra, t.dec, t.score, t.created, t.permissions, t.created_by, t.groups,
           t.api_json
      from unnest(lo, hi) as r(lo, hi) join tom_targets t on t.hpx between r.lo and r.hi
      where degrees(2 * asin(least(1, sqrt(
          power(sin(radians(t.dec - c_dec) / 2), 2) +
          cos(radians(t.dec)) * cos(radians(c_dec)) * power(sin(radians(t.ra - c_ra) / 2), 2)
        )))) <= c_radius
    union all
    select t.id, t.name, t.ra, t.dec, t.score, t.created, t.permissions, t.created_by, t.groups,
           t.api_json
      from tom_targets t
      where t.hpx is null and t.dec between dec_lo and dec_hi
        and (t.ra between ra_lo1 and ra_hi1 or t.ra between ra_lo2 and ra_hi2)
        and degrees(2 * asin(least(1, sqrt(
          power(sin(radians(t.dec - c_dec) / 2), 2) +
          cos(radians(t.dec)) * cos(radians(c_dec)) * power(sin(radians(t.ra - c_ra) / 2), 2)
        )))) <= c_radius;
end $$;
