/**
 * Starts a TOM: database (a real PostgreSQL or embedded PGlite) with its
 * migrations, the token verifier (Keycloak, or the built-in development issuer
 * served at `/dev-oidc` of the same server), the HTTP API, and — unless turned
 * off — the alert-broker actor on the runtime's transport.
 *
 * @module
 */
import { Hono } from "hono";
import { connect, migrate, type Sql, startEmbeddedPostgres } from "../../db/mod.ts";
import { type Host, startHost } from "../../actors/runtime/host.ts";
import type { ActorDefinition } from "../../actors/runtime/actor.ts";
import type { RuntimeConfig } from "../../actors/runtime/config.ts";
import { createLogger, type Logger } from "../../actors/runtime/log.ts";
import type { Transport } from "../../actors/runtime/transport.ts";
import { buildApi } from "./api/app.ts";
import { ListCache, listenForTargetChanges, TARGETS_CHANGED_CHANNEL } from "./api/list_cache.ts";
import { createDevIssuer, type DevIssuer } from "./auth/dev_issuer.ts";
import { createJwtVerifier, type JwtVerifier } from "./auth/verifier.ts";
import { tomBrokerActor } from "./broker/actor.ts";
import { fillSkyIndex } from "./store/sky.ts";
import type { IngestOptions } from "./broker/ingest.ts";
import type { TomConfig } from "./config.ts";
import type { Facility } from "./facilities/facility.ts";
import { lcoFacility } from "./facilities/lco.ts";
import { startReconciliation } from "./facilities/records.ts";
import { tomObservationsActor } from "./facilities/status_actor.ts";
import { applyStrategy, DEFAULT_RULE, type StrategyRule } from "./facilities/strategy.ts";
import { watchedScore } from "./broker/ingest.ts";
import { hardeningOf } from "./security/harden.ts";
import { webPages } from "./web/mod.ts";

/** A running TOM. */
export interface Tom {
  /** Base URL of the HTTP server. */
  readonly url: string;
  readonly port: number;
  readonly sql: Sql;
  readonly verifier: JwtVerifier;
  /** The development issuer, when no external issuer is configured. */
  readonly devIssuer?: DevIssuer;
  /** The actor host running the broker module (absent with KB_TOM_BROKER=false). */
  readonly host?: Host;
  readonly log: Logger;
  /** The short-lived cache of target lists (off with KB_TOM_LIST_CACHE_MS=0). */
  readonly listCache: ListCache;
  /** The facilities observation requests go to (empty without KB_TOM_FACILITY_URL). */
  readonly facilities: ReadonlyMap<string, Facility>;
  stop(): Promise<void>;
}

/** Options of {@link startTom}. */
export interface StartOptions {
  /** Share this transport (the demo). */
  readonly transport?: Transport;
  readonly log?: Logger;
  /** Verifier options for tests (clock, cooldown). */
  readonly verifierOverrides?: { jwksCooldownMs?: number; now?: () => Date };
  /**
   * Listen with `SO_REUSEPORT` (Linux), so several serving threads share the
   * port (serve_threads.ts; needs `--unstable-net`).
   */
  readonly reusePort?: boolean;
  /** The list cache's generation counter, shared by the serving threads (list_cache.ts). */
  readonly listCacheGeneration?: Int32Array<SharedArrayBuffer>;
  /**
   * An extra serving thread (serve_threads.ts): it serves the API and the web
   * pages only, listening once ready; the first thread migrates the database,
   * runs the broker module, the reconciliation and the sky-index fill-in, and
   * listens for target changes for every thread (`listCacheLive`: whether its
   * notification probe came back, else the list cache is off in every thread).
   */
  readonly serveOnly?: { readonly listCacheLive: boolean };
}

/** Starts the TOM. */
export async function startTom(
  config: TomConfig,
  runtime: RuntimeConfig,
  options: StartOptions = {},
): Promise<Tom> {
  const log = options.log ?? createLogger({ level: runtime.KB_LOG_LEVEL, fields: { app: "tom" } });
  const cleanup: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const f of cleanup.reverse()) {
      await f().catch((err) => log.warn("stop step failed", { error: String(err) }));
    }
  };
  try {
    let url = config.KB_DATABASE_URL;
    if (!url) {
      const pg = await startEmbeddedPostgres({ dataDir: config.KB_TOM_PGLITE_DIR });
      cleanup.push(() => pg.stop());
      url = pg.url;
      log.info("embedded PostgreSQL (PGlite) started", {
        dataDir: config.KB_TOM_PGLITE_DIR ?? null,
      });
    }
    const sql = connect(url, { applicationName: "kb-tom", max: config.KB_TOM_DB_POOL });
    cleanup.push(() => sql.end({ timeout: 5 }));
    const serveOnly = options.serveOnly;
    if (!serveOnly) {
      const report = await migrate(sql, {
        log: (m, f) => log.info(m, f as Record<string, unknown>),
      });
      log.info("database ready", {
        applied: report.applied.length,
        present: report.present.length,
      });
      // Targets without a sky index (written before migration 0102): filled in the background;
      // cone searches find them meanwhile by the slower (dec, ra) path (store/sky.ts).
      fillSkyIndex(sql).then(
        (n) => n && log.info("sky index filled in", { targets: n }),
        (err) =>
          log.warn("sky index fill-in stopped; the next start resumes", { error: String(err) }),
      );
    }

    const ingest: IngestOptions = {
      radiusDeg: config.KB_TOM_DEDUP_RADIUS_ARCSEC / 3600,
      permissions: config.KB_TOM_TARGET_PERMISSIONS,
      groups: config.KB_TOM_TARGET_GROUPS,
      watchClass: config.KB_TOM_WATCH_CLASS,
    };

    // The server starts first so a dev issuer can name its own URL; an extra serving
    // thread (its port known) listens once ready, so the kernel never hands it a
    // connection it would answer 503.
    let handler: (req: Request, info: Deno.ServeHandlerInfo) => Response | Promise<Response> = () =>
      new Response("starting", { status: 503, headers: { "Retry-After": "1" } });
    const listen = () => {
      const server = Deno.serve(
        {
          hostname: config.KB_TOM_HOST,
          port: config.KB_TOM_PORT,
          reusePort: options.reusePort,
          onListen: () => {},
        },
        (req, info) => handler(req, info),
      );
      cleanup.push(() => server.shutdown());
      return (server.addr as Deno.NetAddr).port;
    };
    const port = serveOnly ? config.KB_TOM_PORT : listen();
    const base = (config.KB_TOM_PUBLIC_URL ?? `http://${config.KB_TOM_HOST}:${port}`).replace(
      /\/$/,
      "",
    );

    let devIssuer: DevIssuer | undefined;
    let issuer = config.KB_OIDC_ISSUER;
    if (!issuer) {
      devIssuer = await createDevIssuer({
        issuer: `${base}/dev-oidc`,
        audience: config.KB_OIDC_AUDIENCE,
      });
      issuer = devIssuer.issuer;
      log.warn("no KB_OIDC_ISSUER: using the built-in development issuer (never in production)", {
        issuer,
      });
    }
    const verifier = createJwtVerifier({
      issuer,
      audience: config.KB_OIDC_AUDIENCE,
      jwksUrl: config.KB_OIDC_JWKS_URL,
      clockToleranceS: config.KB_OIDC_CLOCK_SKEW_S,
      ...options.verifierOverrides,
    });
    const facilities = new Map<string, Facility>();
    let followUp: import("./broker/actor.ts").FollowUp | undefined;
    if (config.KB_TOM_FACILITY_URL) {
      const lco = lcoFacility({
        url: config.KB_TOM_FACILITY_URL,
        token: config.KB_TOM_FACILITY_TOKEN,
        proposal: config.KB_TOM_FACILITY_PROPOSAL,
      });
      facilities.set(lco.name, lco);
      const rule: StrategyRule = { ...DEFAULT_RULE, ...config.KB_TOM_STRATEGY } as StrategyRule;
      followUp = async (alert, filed) => {
        const score = watchedScore(alert, ingest.watchClass);
        for (const f of filed) {
          const [t] = await sql<{ ra: number; dec: number; name: string }[]>`
            select name, ra, dec from tom_targets where id = ${f.targetId}`;
          const decision = await applyStrategy(sql, lco, rule, alert, {
            id: f.targetId,
            name: t.name,
            ra: t.ra,
            dec: t.dec,
          }, score);
          log.info("observation strategy", { target: t.name, rule: rule.name, ...decision });
        }
      };
      if (!serveOnly) {
        const stopReconcile = startReconciliation(
          sql,
          facilities,
          config.KB_TOM_RECONCILE_MS,
          log,
        );
        cleanup.push(() => Promise.resolve(stopReconcile()));
      }
    }

    const listCache = new ListCache({
      ttlMs: config.KB_TOM_LIST_CACHE_MS,
      sharedGeneration: options.listCacheGeneration,
    });
    // PGlite (one session) delivers no notifications to another connection: no cache there.
    if (!config.KB_DATABASE_URL) listCache.disable();
    // An extra serving thread: the first thread's listener invalidates the shared generation.
    if (serveOnly && !serveOnly.listCacheLive) listCache.disable();
    if (listCache.enabled && !serveOnly) {
      const { live, unlisten } = await listenForTargetChanges(sql, listCache);
      cleanup.push(unlisten);
      if (!live) {
        log.warn("the database delivers no notifications: the target list cache is off", {
          channel: TARGETS_CHANGED_CHANNEL,
        });
      }
    }
    const api = buildApi({
      sql,
      listCache,
      log,
      ingest,
      verifier,
      facilities,
      hardening: hardeningOf(config, config.KB_TOM_PUBLIC_URL),
    });
    const root = new Hono();
    if (devIssuer) root.route("/dev-oidc", devIssuer.app);
    const web = await webPages(config, {
      sql,
      log,
      verifier,
      api: root,
      base,
      issuer,
      devIssuer,
      facilities: facilities.size > 0,
    });
    if (web) root.route("/", web);
    root.route("/", api);
    // The connection info is Hono's env: the client address (security/client_ip.ts).
    handler = (req, info) => root.fetch(req, info);
    if (serveOnly) listen();

    let host: Host | undefined;
    if (config.KB_TOM_BROKER && !serveOnly) {
      const actors = [tomBrokerActor(sql, ingest, followUp)] as ActorDefinition[];
      if (facilities.size) actors.push(tomObservationsActor(sql) as unknown as ActorDefinition);
      host = await startHost(actors, runtime, {
        transport: options.transport,
        log,
      });
      cleanup.push(async () => {
        await host!.stop();
      });
    }
    log.info("tom ready", { url: base, issuer, broker: config.KB_TOM_BROKER, port });
    let stopped: Promise<void> | undefined;
    return {
      url: base,
      port,
      sql,
      verifier,
      devIssuer,
      host,
      log,
      facilities,
      listCache,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
