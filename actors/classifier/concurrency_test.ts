/**
 * The classifier actor handling many alerts at once (ordering keys) gives the
 * results of handling them one at a time: per candidate in delivery order, and
 * every alert delivered after a GW alert (or its retraction) scored with it.
 */
import assert from "node:assert/strict";
import {
  ClassificationResult,
  type HopEnvelope,
  type IgwnAlertContent,
} from "../../contracts/messages.ts";
import { RESULT_SUBJECTS, STREAMS, SUBJECTS } from "../../contracts/names.ts";
import { loadDataset } from "../source_publisher/mod.ts";
import type { ActorDefinition } from "../runtime/actor.ts";
import { ORDER_BARRIER } from "../runtime/actor.ts";
import { runtimeConfig } from "../runtime/config.ts";
import { createLogger } from "../runtime/log.ts";
import { MemoryTransport } from "../runtime/memory_transport.ts";
import { runtimeMetrics } from "../runtime/metrics.ts";
import { startActor } from "../runtime/runner.ts";
import { sleep, waitFor } from "../runtime/testing.ts";
import { classifierActor, classifierOrderKey, handleEnvelope } from "./actor.ts";
import { ClassifierState } from "./state.ts";
import { envelope, gfoAlerts, gwAlert, multiOrderMap, toBase64 } from "./testing.ts";

const ds = await loadDataset();
const mapB64 = toBase64(await multiOrderMap(ds));
const enc = new TextEncoder();
const dec = new TextDecoder();

const message = (data: HopEnvelope) => ({
  id: "m",
  subject: "s",
  data,
  headers: {},
  deliveryCount: 1,
  timestampMs: 0,
});

Deno.test("order key: optical alerts by candidate, GW alerts as barriers, rejects unordered", () => {
  const [a] = gfoAlerts(ds);
  assert.equal(classifierOrderKey(message(envelope("optical", a, 0))), "AT2017gfo");
  assert.equal(classifierOrderKey(message(envelope("gw", gwAlert(mapB64), 0))), ORDER_BARRIER);
  const two = envelope("optical", a, 0);
  two.content = {
    format: "avro",
    schemaName: "ztf.alert",
    schemaFingerprint: "0".repeat(64),
    records: [a, { ...a, object_id: "other" }],
  };
  assert.equal(classifierOrderKey(message(two)), ORDER_BARRIER, "two candidates in one alert");
  assert.equal(classifierOrderKey(message(envelope("optical", { object_id: 3 }, 0))), undefined);
});

Deno.test({
  name: "actor: 64 alerts at once give the results of one at a time, GW alerts as barriers",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // Five candidates (two outside the map), interleaved; a GW alert after a
    // third of them, its retraction after two thirds.
    const positions = [
      ds.facts.counterpart,
      { ra: ds.facts.counterpart.ra + 0.5, dec: ds.facts.counterpart.dec },
      { ra: 10, dec: 60 },
      ds.facts.counterpart,
      { ra: 200, dec: -70 },
    ];
    const streams = positions.map((pos, c) =>
      gfoAlerts(ds, `cand-${c}`, pos).filter((a) => a.candidate.mjd > ds.facts.t0Mjd).slice(0, 30)
    );
    const inputs: { id: string; env: HopEnvelope }[] = [];
    let n = 0;
    for (let i = 0; i < 30; i++) {
      for (const s of streams) inputs.push({ id: `opt-${n}`, env: envelope("optical", s[i], n++) });
      if (i === 10) inputs.push({ id: "gw-1", env: envelope("gw", gwAlert(mapB64), n++) });
      if (i === 20) {
        const retraction: IgwnAlertContent = {
          ...gwAlert(mapB64),
          alert_type: "RETRACTION",
          event: null,
        };
        inputs.push({ id: "gw-2", env: envelope("gw", retraction, n++) });
      }
    }

    // One at a time, in process.
    const sequential = new ClassifierState();
    const expected = new Map<string, ClassificationResult>();
    for (const { id, env } of inputs) {
      for (const o of await handleEnvelope(env, id, sequential)) {
        expected.set(id, ClassificationResult.parse(o.data));
      }
    }
    assert.ok([...expected.values()].some((r) => r.event_id === "S170817a"));
    assert.ok([...expected.values()].some((r) => r.event_id === null));

    // The actor on a transport, 64 in flight.
    const t = new MemoryTransport();
    const state = new ClassifierState();
    const def = {
      ...classifierActor,
      tuning: { maxInFlight: 64 },
      // Waits before handling as a slow sky map (gzip, network) or a busy loop
      // would: without ordering, later alerts would overtake.
      handler: async (msg: { data: HopEnvelope; id: string }) => {
        await sleep(msg.data.kind === "gw" ? 30 : Math.random() * 3);
        return handleEnvelope(msg.data, msg.id, state);
      },
    } as unknown as ActorDefinition;
    try {
      await t.ensureStream(STREAMS.alertsIn);
      for (const { id, env } of inputs) {
        await t.publish(SUBJECTS.alertsIn(env.kind), enc.encode(JSON.stringify(env)), {
          msgId: id,
        });
      }
      const actor = await startActor(def, {
        transport: t,
        config: runtimeConfig({}),
        log: createLogger({ level: "error" }),
        metrics: runtimeMetrics(),
        replica: "r1",
      });
      await waitFor(
        `${expected.size} results`,
        async () => (await t.streamState(STREAMS.results.name)).messages >= expected.size,
      );
      await actor.stop();
      const got: ClassificationResult[] = [];
      for await (
        const m of t.read(STREAMS.results.name, { subject: RESULT_SUBJECTS.results("kilonova") })
      ) got.push(ClassificationResult.parse(JSON.parse(dec.decode(m.data))));
      assert.equal(got.length, expected.size);
      const index = (id: string) => Number(id.slice("opt-".length));
      const lastIndex = new Map<string, number>();
      for (const r of got) {
        const trigger = r.input_alert_ids.at(-1)!;
        const want = expected.get(trigger);
        assert.ok(want, `unexpected result for ${trigger}`);
        assert.equal(r.event_id, want.event_id, `${trigger}: GW context`);
        assert.deepEqual(r.input_alert_ids, want.input_alert_ids, `${trigger}: inputs`);
        assert.deepEqual(r.scores, want.scores, `${trigger}: scores`);
        // Results of one candidate are published in the order of its alerts.
        assert.ok((lastIndex.get(r.candidate_id) ?? -1) < index(trigger), `${trigger} order`);
        lastIndex.set(r.candidate_id, index(trigger));
      }
    } finally {
      await t.close();
    }
  },
});
