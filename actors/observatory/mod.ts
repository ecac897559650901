/**
 * The simulated observatory (issue 9): an LCO OCS-shaped API that validates,
 * schedules and "observes" request groups, reports state changes on NATS and
 * publishes follow-up photometry as optical alerts.
 *
 * @module
 */
export * from "./observatory.ts";
export * from "./photometry.ts";
export * from "./server.ts";
export * from "./state_store.ts";
