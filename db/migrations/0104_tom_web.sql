-- 0104_tom_web: server-side state of the TOM's web pages (gateway/tom/web/).
-- Only SHA-256 hashes of the browser's cookie values are stored, so a read of
-- these tables does not give away a usable cookie.

-- A login in progress (OIDC authorization code + PKCE): one row per visit to
-- /auth/login, used once by /auth/callback and removed; stale rows expire.
create table tom_web_logins (
  id_hash        text        primary key,
  state          text        not null,
  nonce          text        not null,
  code_verifier  text        not null,
  return_to      text        not null default '/',
  created        timestamptz not null default now()
);
create index tom_web_logins_created_idx on tom_web_logins (created);

-- A signed-in browser: the tokens of the identity provider (never sent to the
-- browser), the CSRF token its forms carry, and when it ends.
create table tom_web_sessions (
  id_hash           text        primary key,
  subject           text        not null,
  username          text        not null,
  access_token      text        not null,
  access_expires    timestamptz not null,
  refresh_token     text,
  id_token          text        not null,
  csrf_token        text        not null,
  expires           timestamptz not null,
  created           timestamptz not null default now(),
  last_seen         timestamptz not null default now()
);
create index tom_web_sessions_expires_idx on tom_web_sessions (expires);
