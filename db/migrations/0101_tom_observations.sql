-- 0101_tom_observations: observation requests (TOM Toolkit's ObservationRecord)
-- with their state history, and the strategy's decisions (issue 9).

create table tom_observation_records (
  id                 bigint generated always as identity primary key,
  target_id          bigint not null references tom_targets (id) on delete cascade,
  facility           text   not null,
  -- The facility's id of the request group; null until submitted.
  observation_id     text,
  status             text   not null default 'SUBMITTING'
                       check (status in ('SUBMITTING', 'PENDING', 'COMPLETED', 'WINDOW_EXPIRED',
                                         'FAILURE_LIMIT_REACHED', 'CANCELED', 'REJECTED')),
  terminal           boolean not null default false,
  parameters         jsonb  not null,
  requested_by       text   not null,
  -- Automatic requests: the rule and the alert that triggered it.
  rule               text,
  trigger_result_id  text,
  trigger_score      double precision,
  event_id           text,
  trigger_sky_time   timestamptz,
  detail             text   not null default '',
  created            timestamptz not null default now(),
  modified           timestamptz not null default now(),
  constraint tom_observation_records_facility_id_key unique (facility, observation_id),
  constraint tom_observation_records_trigger_key unique (rule, target_id, trigger_result_id)
);
create index tom_observation_records_target_idx on tom_observation_records (target_id, created);
create index tom_observation_records_open_idx on tom_observation_records (terminal, modified);
create index tom_observation_records_event_idx on tom_observation_records (event_id, rule);

-- Every state a record went through, once per facility event.
create table tom_observation_states (
  record_id   bigint not null references tom_observation_records (id) on delete cascade,
  status      text   not null,
  detail      text   not null default '',
  source      text   not null check (source in ('submit', 'event', 'reconcile', 'cancel')),
  at          timestamptz not null default now(),
  primary key (record_id, status)
);
