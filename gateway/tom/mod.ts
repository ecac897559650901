/**
 * The TOM (target and observation manager): a Hono HTTP API behind OIDC bearer
 * tokens (Keycloak, or the built-in development issuer), with TOM Toolkit-shaped
 * targets, and an alert-broker module that turns derived alerts into targets.
 * See docs/tom.md.
 *
 * @module
 */
export { startTom, type Tom } from "./server.ts";
export { loadTomConfig, TOM_ENV, type TomConfig } from "./config.ts";
export { buildApi } from "./api/app.ts";
export * from "./auth/roles.ts";
export * from "./auth/verifier.ts";
export * from "./auth/middleware.ts";
export * from "./auth/dev_issuer.ts";
export { TOM_ACTOR, tomBrokerActor } from "./broker/actor.ts";
export * from "./broker/ingest.ts";
export { queryResults, resultToTarget } from "./broker/query.ts";
