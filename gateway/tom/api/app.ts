/**
 * The TOM's HTTP API: every `/api/*` request is authenticated with a bearer
 * JWT and authorised by role; requests and responses are zod schemas, from
 * which the OpenAPI 3.1 document at `/openapi.json` is generated; `/docs` is
 * Swagger UI over it.
 *
 * @module
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { swaggerUI } from "@hono/swagger-ui";
import { HTTPException } from "hono/http-exception";
import type { Context } from "hono";
import { isDbUnreachable } from "../../../db/connect.ts";
import { bearerAuth } from "../auth/middleware.ts";
import type { JwtVerifier } from "../auth/verifier.ts";
import { NameTakenError } from "../store/targets.ts";
import { UnknownTargetsError } from "../store/history.ts";
import { registerBrokers } from "./brokers.ts";
import { registerClassify } from "./classify.ts";
import { registerCollections } from "./collections.ts";
import { type ApiDeps, ApiError, type TomApp } from "./common.ts";
import { registerTargets } from "./targets.ts";
import { registerObservations } from "./observations.ts";
import { registerAudit } from "../audit/api.ts";
import { DEFAULT_HARDENING, hardenApi, type HardeningOptions } from "../security/harden.ts";

/** Version of the API document. */
export const API_VERSION = "1.0.0";

/** Builds the API app. */
export function buildApi(
  deps: ApiDeps & { verifier: JwtVerifier; hardening?: HardeningOptions },
): TomApp {
  const app: TomApp = new OpenAPIHono({
    strict: false,
    defaultHook: (result, c) => {
      if (!result.success) {
        const issues = result.error.issues.map((i) => ({
          path: i.path.join("."),
          message: i.message,
        }));
        return c.json({
          error: "invalid_request",
          message: issues.map((i) => `${i.path || "(body)"}: ${i.message}`).join("; "),
          issues,
        }, 400);
      }
    },
  });

  // CORS, security headers, rate limits, body size (security/harden.ts).
  const hardened = hardenApi(app, {
    ...(deps.hardening ?? DEFAULT_HARDENING),
    bodyLimitExempt: (p) => p === "/api/classify", // its own limit, CLASSIFY_MAX_BODY_BYTES
  });
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.use("/api/*", bearerAuth(deps.verifier));
  app.use("/api/*", hardened.afterAuth);
  if (deps.listCache) {
    // This replica's writes empty the list cache before they answer (read-your-writes);
    // other writers reach it through PostgreSQL notifications (list_cache.ts).
    const cache = deps.listCache;
    app.use("/api/*", async (c, next) => {
      if (c.req.method === "GET" || c.req.method === "HEAD") return await next();
      cache.invalidate();
      try {
        await next();
      } finally {
        cache.invalidate();
      }
    });
  }
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: `access token of ${deps.verifier.issuer} with audience ${deps.verifier.audience}`,
  });

  registerTargets(app, deps);
  registerCollections(app, deps);
  registerBrokers(app, deps);
  registerObservations(app, deps);
  registerClassify(app);
  registerAudit(app, deps);

  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "kilonova-broker TOM API",
      version: API_VERSION,
      description: "Targets, derived alerts, score history and GW events of the kilonova " +
        "broker's TOM. Shapes follow TOM Toolkit's REST API. Roles: observer reads, pi also " +
        "creates and updates, admin also deletes.",
    },
    security: [{ bearerAuth: [] }],
  });
  app.get("/docs", swaggerUI({ url: "/openapi.json" }));

  app.notFound((c) =>
    c.json({ error: "not_found", message: `no route ${c.req.method} ${c.req.path}` }, 404)
  );
  app.onError((err, c) => errorResponse(err, c, deps));
  return app;
}

function errorResponse(err: Error, c: Context, deps: ApiDeps): Response {
  if (err instanceof ApiError) {
    return c.json({ error: err.code, message: err.message }, err.status);
  }
  if (err instanceof NameTakenError) {
    return c.json({ error: "conflict", message: err.message }, 409);
  }
  if (err instanceof UnknownTargetsError) {
    return c.json({ error: "invalid_request", message: err.message }, 400);
  }
  if (err instanceof HTTPException) {
    // Hono's own refusals, e.g. a body that is not JSON.
    const status = err.status;
    return c.json(
      { error: status < 500 ? "invalid_request" : "error", message: err.message },
      status,
    );
  }
  const code = (err as { code?: string }).code ?? "";
  if (/^22/.test(code)) {
    // A data exception from PostgreSQL: out-of-range value the schema let through.
    return c.json({ error: "invalid_request", message: err.message }, 400);
  }
  if (isDbUnreachable(err)) {
    c.header("Retry-After", "5");
    return c.json({ error: "unavailable", message: "the database is unreachable; retry" }, 503);
  }
  deps.log.error("request failed", {
    method: c.req.method,
    path: c.req.path,
    error: err.message,
    stack: err.stack,
  });
  return c.json({ error: "internal", message: "internal error (logged)" }, 500);
}
