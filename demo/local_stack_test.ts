/**
 * `deno task demo --stack local` on the real servers: Kafka (SCRAM) in and out
 * through the Hopskotch gateways, PostgreSQL, Keycloak's token, every part its
 * own process. The run's Kafka topics, consumer group and database are its own;
 * the NATS server is one of the test's own, because the pipeline's stream and
 * consumer names are fixed and the run resets them. Same summary as the
 * embedded demo, plus every derived alert on the Kafka results topic.
 */
import assert from "node:assert/strict";
import { connect } from "../db/mod.ts";
import { startPrivateNats } from "../actors/runtime/testing.ts";
import { runDemo } from "./main.ts";
import { assertDemo } from "./testing.ts";

Deno.test({
  name: "demo --stack local: GW170817 through Kafka, NATS, PostgreSQL and Keycloak, followed up",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const nats = await startPrivateNats();
    try {
      const run = await runDemo({ stack: "local", natsUrl: nats.url, quiet: true });
      let stopped = false;
      try {
        console.log(`demo --stack local: ${run.summary.seconds.toFixed(1)} s`);
        await assertDemo(run, "local");
        const k = run.summary.kafkaResults!;
        assert.match(k.topic, /^kb-demo-[0-9a-f]+\.results$/);
        assert.equal(k.records, run.summary.derivedAlerts, "every derived alert reached Kafka");
        assert.match(run.login, /Keycloak/);
        const db = k.topic.replace(/\.results$/, "").replaceAll("-", "_");
        await run.stop();
        stopped = true;
        const admin = connect(Deno.env.get("KB_DATABASE_URL")!, { max: 1 });
        const left = await admin`select 1 from pg_database where datname = ${db}`;
        await admin.end();
        assert.equal(left.length, 0, "the run's database is dropped at the end");
      } finally {
        if (!stopped) await run.stop();
      }
    } finally {
      await nats.stop();
    }
  },
});
