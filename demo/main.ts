/**
 * `deno task demo`: every actor of the pipeline in one process on the embedded
 * defaults (the in-process transport), zero set-up. Today it runs the actor
 * runtime's demonstration: pings through the echo actor, a few malformed
 * messages into the dead-letter stream, and a summary. Each pipeline stage
 * joins the demo as it lands.
 *
 * Options: `--pings N` (default 10000), `--keep` (stay up, serving /metrics).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { CHANNELS } from "../contracts/messages.ts";
import { STREAMS, SUBJECTS } from "../contracts/names.ts";
import { ACTORS } from "../actors/registry.ts";
import { loadRuntimeConfig } from "../actors/runtime/config.ts";
import { startHost } from "../actors/runtime/host.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { MemoryTransport } from "../actors/runtime/memory_transport.ts";
import { waitFor } from "../actors/runtime/testing.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      pings: { type: "string", default: "10000" },
      keep: { type: "boolean", default: false },
    },
  });
  const pings = Number(values.pings);
  if (!Number.isInteger(pings) || pings < 1) {
    console.error(`--pings must be a positive integer, got "${values.pings}"`);
    Deno.exit(2);
  }
  const config = loadRuntimeConfig({ ...Deno.env.toObject(), KB_TRANSPORT: "memory" });
  const transport = new MemoryTransport();
  const host = await startHost(Object.values(ACTORS), { ...config, KB_HTTP_PORT: 0 }, {
    transport,
    log: createLogger({ level: "warn" }),
    handleSignals: values.keep,
  });
  console.log(
    `kilonova-broker demo: ${
      host.actors.map((a) => a.name).join(", ")
    } on the in-process transport`,
  );
  console.log(`operations endpoint: http://127.0.0.1:${host.port}/metrics`);

  const t0 = performance.now();
  for (let i = 0; i < pings; i++) {
    await transport.publish(
      SUBJECTS.demoPing,
      enc.encode(JSON.stringify({ seq: i, sentAt: Date.now(), body: "x".repeat(64) })),
      { msgId: `demo-ping-${i}` },
    );
  }
  // Malformed input is dead-lettered with a reason, never dropped.
  await transport.publish(SUBJECTS.demoPing, enc.encode("{not json"), { msgId: "demo-bad-json" });
  await transport.publish(SUBJECTS.demoPing, enc.encode(`{"seq":"x"}`), {
    msgId: "demo-bad-schema",
  });

  const countPongs = async () => {
    let n = 0;
    for await (const _ of transport.read(STREAMS.demo.name, { subject: SUBJECTS.demoPong })) n++;
    return n;
  };
  await waitFor(`${pings} pongs`, async () => (await countPongs()) >= pings, 120_000, 50);
  const secs = (performance.now() - t0) / 1000;
  const letters = [];
  for await (const m of transport.read(STREAMS.deadLetters.name)) {
    letters.push(CHANNELS.deadLetters.schema.parse(JSON.parse(dec.decode(m.data))));
  }
  console.log(
    `\n${pings} pings → ${await countPongs()} pongs in ${secs.toFixed(2)} s ` +
      `(${Math.round(pings / secs).toLocaleString("en-US")} msgs/s)`,
  );
  console.log(`dead letters: ${letters.length}`);
  for (const l of letters) console.log(`  ${l.original.id}: ${l.reason} — ${l.detail}`);

  if (!values.keep) {
    const { clean } = await host.stop();
    await transport.close();
    console.log(clean ? "\nstopped cleanly" : "\nstopped with work unfinished");
    Deno.exit(clean ? 0 : 1);
  }
}
