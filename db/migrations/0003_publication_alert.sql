-- 0003_publication_alert: the derived alert exactly as first sent.
--
-- A redelivered result whose derived alert was already decided is re-sent; rebuilding it then
-- would carry the photometry archived since, so the same hop _id would name different bytes
-- (the fault suite saw it). The JSON text is kept as sent (text, not jsonb: jsonb reorders keys).
-- Null for rows written before this migration: those are rebuilt as before.
alter table publications add column alert_json text;
