/**
 * `deno task demo`: the whole pipeline in one process on the embedded defaults
 * — the in-process transport, PGlite, the TOM's development OIDC issuer — with
 * zero set-up. It replays GW170817 (the IGWN alerts with their sky map, the GCN
 * notices, every optical alert of AT2017gfo and of real non-kilonova transients
 * placed in the localization) onto the bus as the Hopskotch gateway would, and
 * every actor does its job: the archiver stores each alert once, the classifier
 * scores each candidate against the live sky map, the results publisher turns
 * material changes into derived alerts, and the TOM files them as targets. It
 * ends with a summary and the TOM's URL with a ready token.
 *
 * Options: `--synthetic N` adds N synthetic candidates (default 0), `--seed N`,
 * `--keep` keeps the TOM up after the summary (Ctrl-C stops it).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { STREAMS } from "../contracts/names.ts";
import { connect, startEmbeddedPostgres } from "../db/mod.ts";
import { createArchiver } from "../actors/archiver/archiver.ts";
import { classifierActor } from "../actors/classifier/actor.ts";
import { createResultsPublisher } from "../actors/results_publisher/publisher.ts";
import type { ActorDefinition } from "../actors/runtime/actor.ts";
import { loadRuntimeConfig } from "../actors/runtime/config.ts";
import { startHost } from "../actors/runtime/host.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { MemoryTransport } from "../actors/runtime/memory_transport.ts";
import {
  buildTimeline,
  createProgress,
  loadDataset,
  loadEncoders,
  mergeByTime,
  runReplay,
  syntheticEvents,
  SyntheticSky,
  type TimelineEvent,
  transportSink,
} from "../actors/source_publisher/mod.ts";
import { loadTomConfig } from "../gateway/tom/config.ts";
import { startTom } from "../gateway/tom/server.ts";
import { sleep } from "../actors/runtime/testing.ts";

/** What the demo prints at the end. */
export interface DemoSummary {
  alertsIn: number;
  alertsArchived: Record<string, number>;
  candidates: number;
  photometry: number;
  gwEvents: string[];
  results: number;
  derivedAlerts: number;
  targets: number;
  top: { name: string; score: number; explanation: string }[];
  deadLetters: Record<string, number>;
  seconds: number;
}

/** Runs the demo; returns the summary (the TOM keeps running when `keep`). */
export async function runDemo(options: {
  synthetic?: number;
  seed?: number;
  keep?: boolean;
  quiet?: boolean;
} = {}): Promise<
  { summary: DemoSummary; tomUrl: string; token: string; stop: () => Promise<void> }
> {
  const t0 = performance.now();
  const log = createLogger({ level: "error" });
  const say = (s: string) => options.quiet || console.log(s);
  const runtime = {
    ...loadRuntimeConfig({ KB_TRANSPORT: "memory", KB_LOG_LEVEL: "error" }),
    KB_HTTP_PORT: 0,
    KB_HTTP_HOST: "127.0.0.1",
  };

  say("kilonova-broker demo — GW170817 on the embedded defaults (no servers needed)");
  const pg = await startEmbeddedPostgres();
  const sql = connect(pg.url, { max: 1, applicationName: "kb-demo" });
  const transport = new MemoryTransport();
  for (const s of Object.values(STREAMS)) await transport.ensureStream(s);

  const tom = await startTom(
    loadTomConfig({ KB_DATABASE_URL: pg.url, KB_TOM_HOST: "127.0.0.1", KB_TOM_PORT: "0" }),
    runtime,
    { transport, log },
  );
  const actors: ActorDefinition[] = [
    createArchiver({ sql }),
    classifierActor as unknown as ActorDefinition,
    createResultsPublisher({ sql }),
  ];
  const host = await startHost(actors, runtime, { transport, log });
  say(`actors: ${host.actors.map((a) => a.name).join(", ")}, tom — on the in-process transport`);

  // The replay, as the Hopskotch gateway would deliver it onto alerts.in.<kind>.
  const enc = await loadEncoders();
  const ds = await loadDataset();
  const built = await buildTimeline(ds, enc);
  const streams: Iterable<TimelineEvent>[] = [built.events];
  let total = built.events.length;
  if (options.synthetic) {
    const sky = new SyntheticSky({
      n: options.synthetic,
      seed: options.seed ?? 1,
      t0Mjd: ds.facts.t0Mjd,
      map: built.map,
      runId: "demo",
    });
    const synth = [...syntheticEvents(sky, enc)];
    total += synth.length;
    streams.push(synth);
  }
  const progress = createProgress(total, createLogger({ level: options.quiet ? "error" : "info" }));
  const replay = await runReplay(mergeByTime(...streams), {
    speed: "max",
    group: "kb-demo",
    runId: "demo",
    sink: transportSink(transport, "kilonova-broker-demo"),
    onProgress: (sent, last) => progress.update(sent, last),
  });
  progress.stop();

  // Wait until every actor has drained its backlog (three quiet looks in a row).
  const consumers = [
    ...host.actors.map((a) => a.consumer),
    ...(tom.host?.actors.map((a) => a.consumer) ?? []),
  ];
  const waitStart = Date.now();
  for (let quiet = 0; quiet < 3;) {
    const backlog: Record<string, number> = {};
    let busy = 0;
    for (const c of consumers) {
      const s = await transport.consumerState(c.stream, c.durable);
      backlog[c.durable] = s.pending + s.ackPending;
      busy += s.pending + s.ackPending;
    }
    quiet = busy === 0 ? quiet + 1 : 0;
    if (Date.now() - waitStart > 600_000) {
      throw new Error(`the pipeline did not drain within 10 minutes: ${JSON.stringify(backlog)}`);
    }
    if (!options.quiet && busy && (Date.now() - waitStart) % 5000 < 250) {
      console.error(`draining: ${JSON.stringify(backlog)}`);
    }
    await sleep(250);
  }

  const count = async (q: Promise<{ n: string | number }[]>) => Number((await q)[0].n);
  const byKind: Record<string, number> = {};
  for (
    const r of await sql<{ kind: string; n: string }[]>`
    select subject as kind, count(*)::text as n from alerts group by subject order by subject`
  ) {
    byKind[r.kind] = Number(r.n);
  }
  const deadLetters: Record<string, number> = {};
  for await (const m of transport.read(STREAMS.deadLetters.name)) {
    deadLetters[m.subject] = (deadLetters[m.subject] ?? 0) + 1;
  }
  const top = await sql<{ name: string; score: number; explanation: string | null }[]>`
    select t.name, t.score, e.value #>> '{}' as explanation
    from tom_targets t
    left join tom_target_extras e on e.target_id = t.id and e.key = 'explanation'
    where t.score is not null
    order by t.score desc, t.name
    limit 5`;
  let derived = 0;
  for await (const _ of transport.read(STREAMS.alertsOut.name)) derived++;
  const summary: DemoSummary = {
    alertsIn: replay.sent,
    alertsArchived: byKind,
    candidates: await count(sql`select count(*) as n from candidates`),
    photometry: await count(sql`select count(*) as n from photometry`),
    gwEvents:
      (await sql<{ id: string }[]>`select distinct superevent_id as id from gw_events order by 1`)
        .map((r) => r.id),
    results: await count(sql`select count(*) as n from results`),
    derivedAlerts: derived,
    targets: await count(sql`select count(*) as n from tom_targets`),
    top: top.map((r) => ({
      name: r.name,
      score: Number(r.score),
      explanation: r.explanation ?? "",
    })),
    deadLetters,
    seconds: (performance.now() - t0) / 1000,
  };
  const token = tom.devIssuer ? await tom.devIssuer.tokenFor("pi") : "";

  const stop = async () => {
    await host.stop();
    await tom.stop();
    await sql.end({ timeout: 5 });
    await transport.close();
    await pg.stop();
  };
  return { summary, tomUrl: tom.url, token, stop };
}

function printSummary(s: DemoSummary, tomUrl: string, token: string): void {
  const n = (v: number) => v.toLocaleString("en-US");
  console.log(`\nsummary (${s.seconds.toFixed(1)} s)`);
  console.log(`  alerts in:        ${n(s.alertsIn)} replayed onto the bus`);
  console.log(
    `  archived:         ${
      Object.entries(s.alertsArchived).map(([k, v]) => `${k} ${n(v)}`).join(", ")
    }`,
  );
  console.log(`  GW events:        ${s.gwEvents.join(", ") || "none"}`);
  console.log(`  candidates:       ${n(s.candidates)} with ${n(s.photometry)} photometry points`);
  console.log(`  classifications:  ${n(s.results)}; derived alerts out: ${n(s.derivedAlerts)}`);
  console.log(`  TOM targets:      ${n(s.targets)}`);
  console.log(`  top P(kilonova):`);
  for (const t of s.top) {
    console.log(
      `    ${t.score.toFixed(3)}  ${t.name}${t.explanation ? `  — ${t.explanation}` : ""}`,
    );
  }
  const dl = Object.entries(s.deadLetters);
  console.log(
    `  dead letters:     ${dl.length ? dl.map(([k, v]) => `${k} ${v}`).join(", ") : "none"}`,
  );
  console.log(`  observation requests: not yet (the observatory and follow-up rules are issue 9)`);
  console.log(`\nTOM: ${tomUrl}/docs   (API: ${tomUrl}/api/targets/)`);
  console.log(`a ready token for user "pi" (valid 5 minutes; more from ${tomUrl}/dev-oidc):`);
  console.log(`  curl -H "Authorization: Bearer ${token}" ${tomUrl}/api/targets/?ordering=-score`);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      synthetic: { type: "string", default: "0" },
      seed: { type: "string", default: "1" },
      keep: { type: "boolean", default: false },
    },
  });
  const synthetic = Number(values.synthetic);
  const seed = Number(values.seed);
  if (!Number.isInteger(synthetic) || synthetic < 0 || !Number.isInteger(seed)) {
    console.error(`--synthetic must be a whole number ≥ 0 and --seed an integer`);
    Deno.exit(2);
  }
  const { summary, tomUrl, token, stop } = await runDemo({ synthetic, seed, keep: values.keep });
  printSummary(summary, tomUrl, token);
  if (values.keep) {
    console.log("\nthe TOM stays up; Ctrl-C stops everything");
    const onSignal = () => stop().then(() => Deno.exit(0));
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
  } else {
    await stop();
    Deno.exit(0);
  }
}
