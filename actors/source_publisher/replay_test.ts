import assert from "node:assert/strict";
import { HopEnvelope, STREAMS, SUBJECTS } from "../../contracts/mod.ts";
import { MemoryTransport } from "../runtime/memory_transport.ts";
import { DataError, loadDataset, parseFacts, parsePhotometry } from "./dataset.ts";
import { main } from "./main.ts";
import { loadEncoders } from "./payloads.ts";
import {
  type Clock,
  formatOffset,
  mergeByTime,
  parseOffset,
  parseSpeed,
  runReplay,
} from "./replay.ts";
import { MemorySink, transportSink } from "./sinks.ts";
import { buildTimeline, type TimelineEvent } from "./timeline.ts";

const ds = await loadDataset();
const built = await buildTimeline(ds, await loadEncoders());

/** A clock that advances only when slept on. */
function fakeClock(): Clock & { slept: number[] } {
  let now = 0;
  const slept: number[] = [];
  return { slept, now: () => now, sleep: (ms) => (slept.push(ms), now += ms, Promise.resolve()) };
}

const ev = (t: number, key: string): TimelineEvent => ({
  t,
  topic: "gcnNotices",
  format: "json",
  key,
  recordKey: key,
  label: key,
  encode: () => new TextEncoder().encode(`{"k":"${key}"}`),
});

Deno.test("speed paces by the timeline: 3600 s of events at speed 3600 take 1 s of clock", async () => {
  const clock = fakeClock();
  const sink = new MemorySink();
  const r = await runReplay([ev(0, "a"), ev(1800, "b"), ev(3600, "c")], {
    speed: 3600,
    group: "g",
    runId: "r",
    sink,
    clock,
  });
  assert.equal(r.sent, 3);
  assert.deepEqual(clock.slept, [500, 500]);
  assert.deepEqual(sink.published.map((p) => p.topic), [
    "g.gcn-notices",
    "g.gcn-notices",
    "g.gcn-notices",
  ]);
});

Deno.test("--from/--until select a window; --backfill sends earlier events at once", async () => {
  const events = [ev(-7200, "old"), ev(-10, "a"), ev(10, "b"), ev(100, "c")];
  const clock = fakeClock();
  const sink = new MemorySink();
  const r = await runReplay(events, {
    speed: 1,
    fromS: -60,
    untilS: 50,
    group: "g",
    runId: "r",
    sink,
    clock,
  });
  assert.equal(r.sent, 2);
  assert.equal(r.skipped, 1);
  assert.deepEqual(clock.slept, [20_000]);
  const back = new MemorySink();
  const r2 = await runReplay(events, {
    speed: 1,
    fromS: -60,
    untilS: 50,
    backfill: true,
    group: "g",
    runId: "r",
    sink: back,
    clock: fakeClock(),
  });
  assert.equal(r2.sent, 3);
  assert.equal(new TextDecoder().decode(back.published[0].record.value), '{"k":"old"}');
});

Deno.test("speed max publishes the whole GW170817 timeline with deterministic ids and topics", async () => {
  const sink = new MemorySink();
  const r = await runReplay(built.events, { speed: "max", group: "kb-demo", runId: "run-1", sink });
  assert.equal(r.sent, built.events.length);
  assert.deepEqual(Object.keys(r.byTopic).sort(), [
    "kb-demo.gcn-circulars",
    "kb-demo.gcn-notices",
    "kb-demo.igwn-gwalert",
    "kb-demo.optical-candidates",
  ]);
  const again = new MemorySink();
  await runReplay(built.events, { speed: "max", group: "kb-demo", runId: "run-1", sink: again });
  assert.deepEqual(again.published.map((p) => p.record.id), sink.published.map((p) => p.record.id));
  assert.equal(new Set(sink.published.map((p) => p.record.id)).size, sink.published.length);
});

Deno.test("through the transport: envelopes on alerts.in.<kind>, a second replay is deduplicated", async () => {
  const t = new MemoryTransport();
  await t.ensureStream(STREAMS.alertsIn);
  const sink = transportSink(t);
  const subset = built.events.filter((e) => e.topic !== "optical" || e.recordKey === "AT2017gfo")
    .slice(0, 200);
  await runReplay(subset, { speed: "max", group: "kb-demo", runId: "dedupe", sink });
  await runReplay(subset, { speed: "max", group: "kb-demo", runId: "dedupe", sink });
  const state = await t.streamState(STREAMS.alertsIn.name);
  assert.equal(state.messages, subset.length);
  const kinds = new Set<string>();
  for await (const m of t.read(STREAMS.alertsIn.name)) {
    const env = HopEnvelope.parse(JSON.parse(new TextDecoder().decode(m.data)));
    kinds.add(m.subject);
    assert.equal(m.subject, SUBJECTS.alertsIn(env.kind));
  }
  assert.deepEqual([...kinds].sort(), ["alerts.in.gcn", "alerts.in.gw", "alerts.in.optical"]);
  await t.close();
});

Deno.test("option parsing names the option", () => {
  assert.equal(parseSpeed("max"), "max");
  assert.equal(parseSpeed("3600"), 3600);
  assert.throws(() => parseSpeed("0"), /--speed: "0"/);
  assert.throws(() => parseSpeed("fast"), /--speed: "fast"/);
  assert.equal(parseOffset("-1h", "--from"), -3600);
  assert.equal(parseOffset("10.9h", "--from"), 39240);
  assert.equal(parseOffset("2d", "--until"), 172800);
  assert.throws(() => parseOffset("yesterday", "--until"), /--until: "yesterday"/);
  assert.equal(formatOffset(39115.6), "T+10:51:55.6");
  assert.equal(formatOffset(-86400 * 2 - 59.96), "T-2d00:01:00.0");
  assert.deepEqual([...mergeByTime([ev(1, "a"), ev(3, "c")], [ev(2, "b")])].map((e) => e.key), [
    "a",
    "b",
    "c",
  ]);
});

Deno.test("bad input is named by file, line and field", async () => {
  const csv =
    "mjd,band,mag,mag_err,upper_limit,system,instrument,source\n57982.98,q,17.4,0.02,false,AB,Swope,x\n";
  assert.throws(
    () => parsePhotometry(csv, "p.csv"),
    (e: Error) =>
      e instanceof DataError && /p\.csv: line 2, field band: unknown band "q"/.test(e.message),
  );
  assert.throws(
    () => parsePhotometry(csv.replace("17.4", "abc").replace(",q,", ",g,"), "p.csv"),
    /line 2, field mag: "abc" is not a number/,
  );
  assert.throws(
    () => parsePhotometry(csv.replace("false", "maybe").replace(",q,", ",g,"), "p.csv"),
    /field upper_limit/,
  );
  assert.throws(() => parsePhotometry("a,b\n", "p.csv"), /p\.csv: line 1: header/);
  assert.throws(() => parseFacts("{", "e.json"), /e\.json: not valid JSON/);
  const facts = JSON.parse(await Deno.readTextFile(new URL("./data/events.json", import.meta.url)));
  delete facts.grb.trigger_time_utc;
  assert.throws(
    () => parseFacts(JSON.stringify(facts), "e.json"),
    /e\.json: field grb\.trigger_time_utc\.value is missing/,
  );
  await assert.rejects(
    loadDataset("/nonexistent-data-dir"),
    /nonexistent-data-dir\/events\.json: cannot read/,
  );
});

Deno.test("the CLI refuses bad input before connecting or publishing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const src = new URL("./data/", import.meta.url);
    await Deno.mkdir(`${dir}/contaminants`);
    await Deno.mkdir(`${dir}/skymap`);
    await Deno.mkdir(`${dir}/gcn`);
    for await (const e of Deno.readDir(src)) {
      if (e.isFile) await Deno.copyFile(new URL(e.name, src), `${dir}/${e.name}`);
    }
    for (const sub of ["contaminants", "skymap", "gcn"]) {
      for await (const e of Deno.readDir(new URL(`${sub}/`, src))) {
        if (e.isFile) {
          await Deno.copyFile(new URL(`${sub}/${e.name}`, src), `${dir}/${sub}/${e.name}`);
        }
      }
    }
    const csv = await Deno.readTextFile(`${dir}/contaminants/SN2014J.csv`);
    await Deno.writeTextFile(
      `${dir}/contaminants/SN2014J.csv`,
      csv.replace(/\n([0-9.]+),g,/, "\n$1,gg,"),
    );
    // An unreachable Kafka: the data error must come first.
    const errors: string[] = [];
    const orig = console.error;
    console.error = (m: string) => errors.push(String(m));
    try {
      assert.equal(await main(["--data", dir, "--url", "kafka://127.0.0.1:1/x"]), 1);
      assert.equal(await main(["--speed=-3"]), 2);
    } finally {
      console.error = orig;
    }
    assert.match(errors[0], /SN2014J\.csv: line \d+, field band: unknown band "gg"/);
    assert.match(errors[1], /--speed: "-3"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
