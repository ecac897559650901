import assert from "node:assert/strict";
import { ConfigError, loadRuntimeConfig, RUNTIME_ENV } from "./config.ts";

Deno.test("config: defaults when nothing is set", () => {
  const c = loadRuntimeConfig({});
  assert.equal(c.KB_TRANSPORT, "nats");
  assert.equal(c.KB_HTTP_PORT, 9464);
  assert.equal(c.KB_MAX_ATTEMPTS, 5);
  assert.equal(c.KB_REPLICA_ID, undefined);
});

Deno.test("config: values are coerced and checked", () => {
  const c = loadRuntimeConfig({
    KB_HTTP_PORT: "8080",
    KB_TRANSPORT: "memory",
    KB_NATS_URL: "nats://a:1,nats://b:2",
  });
  assert.equal(c.KB_HTTP_PORT, 8080);
  assert.equal(c.KB_TRANSPORT, "memory");
  assert.equal(c.KB_NATS_URL, "nats://a:1,nats://b:2");
});

Deno.test("config: every bad variable is named with what it expects and what it sets", () => {
  try {
    loadRuntimeConfig({ KB_HTTP_PORT: "99999", KB_TRANSPORT: "kafka", KB_NATS_URL: "localhost" });
    assert.fail("should have thrown");
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.problems.length, 3);
    assert.match(err.message, /KB_HTTP_PORT="99999": .*65535.*port of the \/healthz/);
    assert.match(err.message, /KB_TRANSPORT="kafka": .*"memory".*"nats"/);
    assert.match(err.message, /KB_NATS_URL="localhost": a nats:\/\/ URL/);
  }
});

Deno.test("config: docs/runtime.md documents every runtime variable", async () => {
  const doc = await Deno.readTextFile(new URL("../../docs/runtime.md", import.meta.url));
  for (const name of Object.keys(RUNTIME_ENV)) {
    assert.match(
      doc,
      new RegExp("\\| `" + name + "` +\\|"),
      `${name} is in the configuration table`,
    );
  }
});
