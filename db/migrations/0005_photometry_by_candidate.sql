-- 0005_photometry_by_candidate: a candidate's latest photometry is read by an index in time order.
--
-- The results publisher reads the latest points of each candidate it publishes
-- (`order by mjd desc limit N` per candidate). With only the primary key
-- (candidate_id, candid) and `photometry_mjd_idx` (mjd), the planner walked
-- `photometry_mjd_idx` backwards filtering on candidate_id: ~17,000 rows and
-- ~1,000 buffer hits per candidate once the table held 10,000 alerts, the
-- largest share of the server's CPU in `deno task bench e2e`. This index
-- answers the read directly (≤ N index entries per candidate), and ties in mjd
-- break by candid. Nothing reads photometry by time alone, so the mjd index
-- goes: each point still updates two indexes when archived.
create index photometry_candidate_mjd_idx on photometry (candidate_id, mjd, candid);
drop index photometry_mjd_idx;
