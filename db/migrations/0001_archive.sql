-- 0001_archive: the ingest archive. Every inbound alert is one row of `alerts`
-- (raw bytes, hop headers, Kafka position), unique by message id; known kinds
-- also land in typed tables. Positions carry `hpx`, the HEALPix NESTED pixel at
-- order 24 (see db/healpix_index.ts), for cone searches and sky-map regions.
-- Typed tables have no foreign keys on the hot path: the archiver writes an
-- alert and its typed rows in one statement, joined on what it inserted.

create table alerts (
  id                bigint generated always as identity primary key,
  msg_id            text        not null,
  kind              text        not null,
  subject           text        not null,
  topic             text        not null,
  kafka_partition   integer     not null,
  kafka_offset      bigint      not null,
  kafka_time        timestamptz,
  kafka_key         bytea,
  hop_id            uuid,
  hop_sender        text,
  hop_test          boolean     not null default false,
  hop_format        text        not null,
  hop_format_header text,
  hop_via           text        not null,
  -- Kafka headers besides hop's own: [{"key": ..., "base64": ...}]
  headers           jsonb       not null default '[]',
  payload           bytea       not null,
  payload_size      integer     not null,
  received_at       timestamptz not null,
  archived_at       timestamptz not null default now(),
  -- typed: also in typed tables; raw: a kind/format without typed tables;
  -- rejected: impossible or malformed content (also dead-lettered, with the reason)
  status            text        not null check (status in ('typed', 'raw', 'rejected')),
  status_detail     text,
  constraint alerts_msg_id_key unique (msg_id)
);
create index alerts_received_at_idx on alerts (received_at);
create index alerts_kind_received_at_idx on alerts (kind, received_at);
create index alerts_hop_id_idx on alerts (hop_id);
create index alerts_kafka_idx on alerts (topic, kafka_partition, kafka_offset);

-- One row per optical candidate (object), position from its first alert.
create table candidates (
  candidate_id   text primary key,
  survey         text             not null,
  ra             double precision not null check (ra >= 0 and ra < 360),
  dec            double precision not null check (dec between -90 and 90),
  hpx            bigint           not null,
  first_mjd      double precision not null,
  last_mjd       double precision not null,
  n_alerts       integer          not null,
  first_alert_id bigint           not null,
  last_alert_id  bigint           not null,
  created_at     timestamptz      not null default now(),
  updated_at     timestamptz      not null default now()
);
create index candidates_hpx_idx on candidates (hpx);
create index candidates_last_mjd_idx on candidates (last_mjd);

-- Photometry, one row per (candidate, measurement id), from whichever alert
-- carried it first (a point repeats in later alerts' history).
create table photometry (
  candidate_id  text             not null,
  candid        bigint           not null,
  alert_id      bigint           not null,
  mjd           double precision not null,
  ra            double precision not null,
  dec           double precision not null,
  band          text             not null,
  mag           double precision,
  mag_err       double precision,
  limiting_mag  double precision,
  upper_limit   boolean          not null,
  mag_system    text,
  instrument    text             not null,
  reference     text,
  primary key (candidate_id, candid)
);
create index photometry_mjd_idx on photometry (mjd);

-- A sky map is stored once per version (its bytes' SHA-256), however many
-- alerts carry it.
create table skymaps (
  sha256         bytea primary key,
  superevent_id  text        not null,
  first_alert_id bigint      not null,
  size           integer     not null,
  bytes          bytea       not null,
  created_at     timestamptz not null default now()
);
create index skymaps_superevent_idx on skymaps (superevent_id);

-- One row per IGWN alert.
create table gw_events (
  alert_id        bigint primary key,
  superevent_id   text             not null,
  alert_type      text             not null,
  time_created    timestamptz      not null,
  event_time      timestamptz,
  far             double precision,
  significant     boolean,
  pipeline        text,
  search          text,
  instruments     text[],
  classification  jsonb,
  properties      jsonb,
  skymap_sha256   bytea,
  external_coinc  jsonb,
  urls            jsonb            not null default '{}'
);
create index gw_events_superevent_idx on gw_events (superevent_id, time_created);
create index gw_events_event_time_idx on gw_events (event_time);

-- One row per GCN notice in the unified JSON schema (GRBs: Fermi GBM; also
-- IceCube's GW follow-up), position indexed like candidates when given.
create table gcn_notices (
  alert_id        bigint primary key,
  schema_url      text             not null,
  mission         text,
  instrument      text,
  notice_type     text,
  event_id        text,
  alert_time      timestamptz,
  trigger_time    timestamptz,
  ra              double precision,
  dec             double precision,
  error_deg       double precision,
  hpx             bigint,
  body            jsonb            not null
);
create index gcn_notices_event_idx on gcn_notices (event_id);
create index gcn_notices_trigger_time_idx on gcn_notices (trigger_time);
create index gcn_notices_hpx_idx on gcn_notices (hpx);
