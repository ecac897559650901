/**
 * The local stack the test command starts is the real thing: nats-server 2.10+
 * with JetStream and the NATS CLI, and PostgreSQL reachable with postgres.js.
 */
import assert from "node:assert/strict";
import { natsCli } from "../../actors/runtime/testing.ts";
import { connect } from "../../db/connect.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "local stack: nats-server runs JetStream, version 2.10 or later",
  ...opts,
  async fn() {
    const monitor = Deno.env.get("KB_NATS_MONITOR_URL");
    assert.ok(monitor, "KB_NATS_MONITOR_URL is set by deploy/local/test.sh");
    const health = await fetch(`${monitor}/healthz?js-enabled-only=true`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    const varz = await (await fetch(`${monitor}/varz`)).json();
    const [major, minor] = String(varz.version).split(".").map(Number);
    assert.ok(major > 2 || (major === 2 && minor >= 10), `nats-server ${varz.version}`);
    const js = await (await fetch(`${monitor}/jsz`)).json();
    assert.ok(js.config?.store_dir, "JetStream has a store directory");
    const streams = await natsCli(["stream", "ls"]);
    assert.ok(Array.isArray(streams), "the NATS CLI reaches the server and lists streams");
  },
});

Deno.test({
  name: "local stack: PostgreSQL answers postgres.js on its own port",
  ...opts,
  async fn() {
    const url = Deno.env.get("KB_DATABASE_URL");
    assert.ok(url, "KB_DATABASE_URL is set by deploy/local/test.sh");
    // The project's pool (db/connect.ts): TCP, or the unix socket with KB_PG_SOCKET=1.
    const sql = connect(url, { max: 1 });
    try {
      const [row] =
        await sql`select current_user as who, current_setting('server_version_num')::int as v`;
      assert.equal(row.who, "kb");
      assert.ok(row.v >= 150000, `PostgreSQL ${row.v}`);
    } finally {
      await sql.end();
    }
  },
});
