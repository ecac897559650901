-- 0002_results: classification results and what the results publisher sent.

-- Every result a classifier published, once (unique by its message id).
create table results (
  id               bigint generated always as identity primary key,
  result_id        text             not null,
  subject          text             not null,
  candidate_id     text             not null,
  model_name       text             not null,
  model_version    text             not null,
  scores           jsonb            not null,
  top_class        text             not null,
  top_score        double precision not null,
  features         jsonb            not null,
  explanation      jsonb            not null,
  input_alert_ids  text[]           not null,
  event_id         text,
  computed_at      timestamptz      not null,
  stored_at        timestamptz      not null default now(),
  -- published: became a derived alert; unchanged: within the threshold of the last one
  decision         text             not null check (decision in ('published', 'unchanged')),
  constraint results_result_id_key unique (result_id)
);
create index results_candidate_idx on results (candidate_id, computed_at);
create index results_computed_at_idx on results (computed_at);

-- The last derived alert per candidate and model: the baseline a new result
-- is compared with.
create table publications (
  candidate_id     text    not null,
  model_name       text    not null,
  revision         integer not null,
  result_id        text    not null,
  model_version    text    not null,
  scores           jsonb   not null,
  top_class        text    not null,
  hop_id           uuid    not null,
  published_at     timestamptz not null default now(),
  primary key (candidate_id, model_name)
);
