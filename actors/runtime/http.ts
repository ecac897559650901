/**
 * The operations endpoint of a process: `/healthz` (alive), `/readyz` (every
 * actor consuming, not shutting down) and `/metrics` (Prometheus text).
 *
 * @module
 */
import { Hono } from "hono";
import type client from "prom-client";

/** What the operations server reports on. */
export interface OpsTarget {
  readonly registry: client.Registry;
  /** Names of actors not ready, with why; empty when ready. */
  readonly notReady: () => string[];
}

/** A running operations server. */
export interface OpsServer {
  readonly port: number;
  stop(): Promise<void>;
}

/** Builds the operations app (tested with `app.request`). */
export function opsApp(target: OpsTarget): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", (c) => {
    const problems = target.notReady();
    return problems.length
      ? c.json({ status: "not ready", problems }, 503)
      : c.json({ status: "ready" });
  });
  app.get("/metrics", async (c) => {
    const body = await target.registry.metrics();
    return c.body(body, 200, { "content-type": target.registry.contentType });
  });
  return app;
}

/** Serves the operations app on `host:port` (port 0 picks a free one). */
export function serveOps(target: OpsTarget, options: { host: string; port: number }): OpsServer {
  const app = opsApp(target);
  const server = Deno.serve(
    { hostname: options.host, port: options.port, onListen: () => {} },
    app.fetch,
  );
  return {
    port: (server.addr as Deno.NetAddr).port,
    stop: () => server.shutdown(),
  };
}
