/**
 * The actor runtime: the transport interface and its two implementations,
 * actor definitions, the runner with its middleware, and the process host.
 *
 * @module
 */
export * from "./transport.ts";
export { MemoryTransport } from "./memory_transport.ts";
export { NatsTransport, type NatsTransportOptions } from "./nats_transport.ts";
export * from "./actor.ts";
export * from "./config.ts";
export * from "./log.ts";
export * from "./metrics.ts";
export * from "./middleware.ts";
export * from "./runner.ts";
export * from "./host.ts";
export { opsApp, serveOps } from "./http.ts";
export { registerMicro } from "./micro.ts";
