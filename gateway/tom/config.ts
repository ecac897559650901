/**
 * The TOM's environment variables (validated with the runtime's `loadEnv`; a bad
 * value stops the start naming the variable).
 *
 * @module
 */
import { z } from "zod";
import { loadEnv } from "../../actors/runtime/config.ts";
import { SECURITY_ENV } from "./security/config.ts";

const bool = z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) =>
  ["true", "1", "yes"].includes(v)
);

/** Every variable the TOM reads. */
export const TOM_ENV = {
  KB_TOM_HOST: {
    schema: z.string().min(1).default("127.0.0.1"),
    doc: "address the TOM's HTTP server listens on",
  },
  KB_TOM_PORT: {
    schema: z.coerce.number().int().min(0).max(65535).default(18090),
    doc: "port of the TOM's HTTP server (0 picks a free port)",
  },
  KB_TOM_PUBLIC_URL: {
    schema: z.url().optional(),
    doc: "URL clients reach the TOM at (default http://<host>:<port>); names the dev issuer",
  },
  KB_TOM_DB_POOL: {
    schema: z.coerce.number().int().min(1).max(100).default(4),
    doc: "PostgreSQL connections of the TOM's pool (busy ones take more queries pipelined: " +
      "fewer connections, fewer socket reads and writes per query)",
  },
  KB_TOM_WORKERS: {
    schema: z.coerce.number().int().min(1).max(32).default(1),
    doc: "HTTP serving threads of one TOM process, sharing its port (SO_REUSEPORT, Linux; " +
      "above 1 needs deno's --unstable-net, KB_DATABASE_URL and KB_OIDC_ISSUER); the first " +
      "thread also runs the broker module and the migrations",
  },
  KB_TOM_LIST_CACHE_MS: {
    schema: z.coerce.number().int().min(0).max(60_000).default(1_000),
    doc: "longest time a /api/targets/ list or cone-search answer is reused for the same " +
      "caller and URL, ms (emptied on every target write, any replica); 0 turns it off",
  },
  KB_OIDC_ISSUER: {
    schema: z.url().optional(),
    doc: "OIDC issuer whose tokens the API accepts (Keycloak: <url>/realms/<realm>); " +
      "unset: the built-in development issuer at <public url>/dev-oidc",
  },
  KB_OIDC_AUDIENCE: {
    schema: z.string().min(1).default("kb-tom"),
    doc: "audience (aud) an access token must carry",
  },
  KB_OIDC_JWKS_URL: {
    schema: z.url().optional(),
    doc: "JWKS URL (default: from the issuer's discovery document)",
  },
  KB_OIDC_CLOCK_SKEW_S: {
    schema: z.coerce.number().int().min(0).max(300).default(30),
    doc: "clock skew tolerated on exp/nbf, seconds",
  },
  KB_DATABASE_URL: {
    schema: z.string().regex(/^postgres(ql)?:\/\//, "a postgres:// URL").optional(),
    doc: "PostgreSQL URL; unset: embedded PGlite",
  },
  KB_TOM_PGLITE_DIR: {
    schema: z.string().min(1).optional(),
    doc: "directory of the embedded PGlite data (default: in memory)",
  },
  KB_TOM_BROKER: {
    schema: bool.default(true),
    doc: "run the alert-broker module (durable consumer of derived alerts) in this process",
  },
  KB_TOM_DEDUP_RADIUS_ARCSEC: {
    schema: z.coerce.number().positive().max(3600).default(1.5),
    doc: "targets closer than this are one object (broker module), arcseconds",
  },
  KB_TOM_TARGET_PERMISSIONS: {
    schema: z.enum(["OPEN", "PUBLIC", "PRIVATE"]).default("PUBLIC"),
    doc: "permissions of targets the broker module creates",
  },
  KB_TOM_TARGET_GROUPS: {
    schema: z.string().default("").transform((s) =>
      s.split(",").map((g) => g.trim()).filter(Boolean)
    ),
    doc: "comma-separated groups of targets the broker module creates",
  },
  KB_TOM_WATCH_CLASS: {
    schema: z.string().min(1).default("kilonova"),
    doc: "class whose probability is a target's score",
  },
  KB_TOM_FACILITY_URL: {
    schema: z.url().optional(),
    doc: "base URL of the LCO OCS-shaped facility (the simulated observatory); unset: no " +
      "observation requests",
  },
  KB_TOM_FACILITY_TOKEN: {
    schema: z.string().min(1).optional(),
    doc: "API token of the facility (`Authorization: Token ...`)",
  },
  KB_TOM_FACILITY_PROPOSAL: {
    schema: z.string().min(1).default("KB-FOLLOWUP"),
    doc: "proposal the TOM's request groups are charged to",
  },
  KB_TOM_STRATEGY: {
    schema: z.string().default("").transform((s, ctx) => {
      if (s.trim() === "") return {};
      try {
        return JSON.parse(s) as Record<string, unknown>;
      } catch {
        ctx.addIssue({
          code: "custom",
          message: "not JSON: give the rule fields as a JSON object",
        });
        return z.NEVER;
      }
    }),
    doc: "observation strategy rule overrides as JSON (fields of StrategyRule, e.g. " +
      '{"minScore":0.6,"cooldownHours":12}); "off" rules out automatic requests with minScore 2',
  },
  KB_TOM_WEB: {
    schema: bool.default(true),
    doc: "serve the web pages (login through the OIDC issuer, targets, events); see docs/tom.md",
  },
  KB_OIDC_WEB_CLIENT_ID: {
    schema: z.string().min(1).default("tom-web"),
    doc: "OIDC client of the web login (authorization code + PKCE, confidential)",
  },
  KB_OIDC_WEB_CLIENT_SECRET: {
    schema: z.string().min(1).optional(),
    doc: "secret of the web login's client (default with the dev issuer: its dev secret; with " +
      "an external issuer the web pages are off without it)",
  },
  KB_TOM_COOKIE_SECURE: {
    schema: z.enum(["auto", "true", "false"]).default("auto"),
    doc: "mark session cookies Secure (auto: when KB_TOM_PUBLIC_URL is https)",
  },
  KB_TOM_SESSION_HOURS: {
    schema: z.coerce.number().positive().max(720).default(8),
    doc: "longest life of a web session, hours (also ends with the issuer's session)",
  },
  KB_TOM_RECONCILE_MS: {
    schema: z.coerce.number().int().min(100).max(86_400_000).default(60_000),
    doc: "period of the reconciliation of open observation records with the facility, ms",
  },
  // Hardening (CORS, rate limits, body size, HSTS, proxies): security/config.ts.
  ...SECURITY_ENV,
} as const;

/** The TOM's configuration. */
export type TomConfig = ReturnType<typeof loadTomConfig>;

/** Reads the TOM's configuration from the environment. */
export function loadTomConfig(env: Record<string, string | undefined> = Deno.env.toObject()) {
  return loadEnv(TOM_ENV, env);
}
