-- 0100_tom: the TOM's targets (TOM Toolkit's Target, TargetName, TargetExtra,
-- TargetList), the derived alerts it received with their score history, and the
-- GW events its targets are linked to. See docs/tom.md.

-- A target. Permissions as in TOM Toolkit: OPEN and PUBLIC are visible to every
-- caller allowed to read, PRIVATE only to members of `groups`, its creator and admins.
create table tom_targets (
  id           bigint generated always as identity primary key,
  name         text             not null,
  type         text             not null default 'SIDEREAL'
                 check (type in ('SIDEREAL', 'NON_SIDEREAL')),
  ra           double precision not null check (ra >= 0 and ra < 360),
  dec          double precision not null check (dec >= -90 and dec <= 90),
  epoch        double precision not null default 2000,
  permissions  text             not null default 'PUBLIC'
                 check (permissions in ('OPEN', 'PUBLIC', 'PRIVATE')),
  groups       text[]           not null default '{}',
  created_by   text,
  -- Latest derived alert: top score of the watched class (P(kilonova)), its time and event.
  score        double precision,
  score_at     timestamptz,
  event_id     text,
  created      timestamptz      not null default now(),
  modified     timestamptz      not null default now(),
  constraint tom_targets_name_key unique (name)
);
-- Cone search: a declination band, then an RA window, then the exact distance.
create index tom_targets_dec_ra_idx on tom_targets (dec, ra);
create index tom_targets_created_idx on tom_targets (created, id);
create index tom_targets_score_idx on tom_targets (score);
create index tom_targets_event_idx on tom_targets (event_id);

-- Other names of a target (TOM Toolkit's TargetName). A name is unique across
-- primary names and aliases (the broker module keeps it so).
create table tom_target_names (
  id          bigint generated always as identity primary key,
  target_id   bigint not null references tom_targets (id) on delete cascade,
  name        text   not null,
  created     timestamptz not null default now(),
  constraint tom_target_names_name_key unique (name)
);
create index tom_target_names_target_idx on tom_target_names (target_id);

-- Key/value extras (TOM Toolkit's TargetExtra), values as JSON.
create table tom_target_extras (
  target_id   bigint not null references tom_targets (id) on delete cascade,
  key         text   not null,
  value       jsonb  not null,
  modified    timestamptz not null default now(),
  primary key (target_id, key)
);

create table tom_target_lists (
  id          bigint generated always as identity primary key,
  name        text not null,
  created_by  text,
  created     timestamptz not null default now(),
  constraint tom_target_lists_name_key unique (name)
);

create table tom_target_list_members (
  list_id     bigint not null references tom_target_lists (id) on delete cascade,
  target_id   bigint not null references tom_targets (id) on delete cascade,
  added       timestamptz not null default now(),
  primary key (list_id, target_id)
);
create index tom_target_list_members_target_idx on tom_target_list_members (target_id);

-- Every derived alert received, once per (result, target): the score history.
create table tom_alerts (
  id             bigint generated always as identity primary key,
  result_id      text             not null,
  target_id      bigint           not null references tom_targets (id) on delete cascade,
  -- The name the alert used for the target (an alias when matched by position).
  alert_name     text             not null,
  matched_by     text             not null check (matched_by in ('new', 'name', 'position')),
  event_id       text,
  model          text             not null,
  model_version  text             not null,
  top_class      text             not null,
  score          double precision,
  scores         jsonb            not null,
  revision       integer          not null,
  computed_at    timestamptz      not null,
  received_at    timestamptz      not null default now(),
  msg_id         text,
  payload        jsonb            not null,
  constraint tom_alerts_result_target_key unique (result_id, target_id)
);
create index tom_alerts_target_idx on tom_alerts (target_id, computed_at);
create index tom_alerts_event_idx on tom_alerts (event_id);
create index tom_alerts_computed_idx on tom_alerts (computed_at);

-- GW (or other) events the targets are linked to, with the sky map summary
-- when the archive has the map.
create table tom_events (
  event_id        text primary key,
  first_seen      timestamptz      not null default now(),
  alert_type      text,
  event_time      timestamptz,
  far             double precision,
  area50_deg2     double precision,
  area90_deg2     double precision,
  distance_mpc    double precision,
  distance_std_mpc double precision,
  skymap_sha256   text,
  updated         timestamptz      not null default now()
);

create table tom_target_events (
  target_id   bigint not null references tom_targets (id) on delete cascade,
  event_id    text   not null references tom_events (event_id),
  linked      timestamptz not null default now(),
  primary key (target_id, event_id)
);
create index tom_target_events_event_idx on tom_target_events (event_id);
