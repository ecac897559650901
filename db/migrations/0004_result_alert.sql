-- 0004_result_alert: every published result keeps the derived alert exactly as first sent.
--
-- `publications` keeps only the last alert per candidate and model. A result that was published
-- and then superseded in the same batch, whose alerts were not yet on the bus when the publisher
-- died, was redelivered as "superseded since" and never sent (the fault suite counted 103 of
-- 53,143). With the alert kept per result it is re-sent, byte for byte under its hop _id; readers
-- order revisions by `data.revision` and the TOM by `computed_at`. Null for unchanged results and
-- for rows written before this migration.
alter table results add column alert_json text;
alter table results add column hop_id uuid;
