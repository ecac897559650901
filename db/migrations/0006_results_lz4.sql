-- 0006_results_lz4: a published result's derived alert (and its input ids) compressed with lz4.
--
-- Every published result keeps its derived alert as sent (0004): ~11 KB of JSON per alert in
-- `deno task bench e2e`, compressed on insert with PostgreSQL's default pglz. lz4 compresses it
-- several times faster (the server's CPU per result in `deno task bench results-publisher` with
-- 20 alerts per candidate: 0.13 → 0.10 ms). Values already stored keep pglz (both read back).
-- PGlite is built without lz4: there the columns keep the default, with a notice.
do $$
begin
  alter table results alter column alert_json set compression lz4;
  alter table results alter column input_alert_ids set compression lz4;
exception when feature_not_supported then
  raise notice 'this server has no lz4: results.alert_json keeps the default compression';
end $$;
