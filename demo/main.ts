/**
 * `deno task demo`: the whole pipeline in one process on the embedded defaults
 * — the in-process transport, PGlite, the TOM's development OIDC issuer — with
 * zero set-up. It replays GW170817 (the IGWN alerts with their sky map, the GCN
 * notices, every optical alert of AT2017gfo and of real non-kilonova transients
 * placed in the localization) onto the bus as the Hopskotch gateway would, and
 * every actor does its job: the archiver stores each alert once, the classifier
 * scores each candidate against the live sky map, the results publisher turns
 * material changes into derived alerts, the TOM files them as targets and its
 * observation strategy requests follow-up from the simulated observatory, whose
 * photometry comes back as optical alerts and is scored again. It ends with a
 * summary and the TOM's URL with a ready token.
 *
 * `deno task demo --stack local` does the same on the real local servers, each
 * part its own process (see local_stack.ts).
 *
 * Options: `--stack embedded|local`, `--synthetic N` adds N synthetic candidates
 * (default 0), `--seed N`, `--keep` keeps the TOM up after the summary (Ctrl-C
 * stops it).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { STREAMS } from "../contracts/names.ts";
import { startEmbeddedPostgres } from "../db/mod.ts";
import { createArchiver } from "../actors/archiver/archiver.ts";
import { classifierActor } from "../actors/classifier/actor.ts";
import { createResultsPublisher } from "../actors/results_publisher/publisher.ts";
import type { ActorDefinition } from "../actors/runtime/actor.ts";
import { loadRuntimeConfig } from "../actors/runtime/config.ts";
import { startHost } from "../actors/runtime/host.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { MemoryTransport } from "../actors/runtime/memory_transport.ts";
import { createProgress, runReplay, transportSink } from "../actors/source_publisher/mod.ts";
import { loadTomConfig } from "../gateway/tom/config.ts";
import { startTom } from "../gateway/tom/server.ts";
import { loadObservatoryConfig, startObservatory } from "../actors/observatory/server.ts";
import { collectSummary, printSummary } from "./summary.ts";
import {
  DEMO_OBSERVATORY_DELAY_MS,
  DEMO_STRATEGY,
  type DemoOptions,
  type DemoRun,
  demoTimeline,
  freshClassifier,
} from "./common.ts";
import { consumerBacklog, openRequests, settle } from "./settle.ts";
import { runLocalStackDemo } from "./local_stack.ts";

export type { DemoSummary } from "./summary.ts";
export * from "./common.ts";

/** Runs the demo; returns the summary (the TOM keeps running until `stop`). */
export function runDemo(options: DemoOptions = {}): Promise<DemoRun> {
  return options.stack === "local" ? runLocalStackDemo(options) : runEmbeddedDemo(options);
}

async function runEmbeddedDemo(options: DemoOptions): Promise<DemoRun> {
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
  const transport = new MemoryTransport();
  for (const s of Object.values(STREAMS)) await transport.ensureStream(s);

  const obs = await startObservatory(
    loadObservatoryConfig({
      KB_OBSERVATORY_PORT: "0",
      KB_OBSERVATORY_DELAY_MS: String(DEMO_OBSERVATORY_DELAY_MS),
    }),
    transport,
    log,
  );
  const tom = await startTom(
    loadTomConfig({
      KB_DATABASE_URL: pg.url,
      KB_TOM_HOST: "127.0.0.1",
      KB_TOM_PORT: "0",
      KB_TOM_FACILITY_URL: obs.url,
      KB_TOM_RECONCILE_MS: "5000",
      KB_TOM_STRATEGY: JSON.stringify(DEMO_STRATEGY),
    }),
    runtime,
    { transport, log },
  );
  // One client for everything: PGlite is one session, and the extended-protocol messages of two
  // clients interleave on it ("portal does not exist"); one client keeps them in order.
  const sql = tom.sql;
  const actors: ActorDefinition[] = [
    createArchiver({ sql }),
    freshClassifier(),
    // No wait for the archive here: PGlite is one session, and results waiting in short
    // transactions starve the archiver they wait for (docs/demo.md).
    createResultsPublisher({ sql, config: { archiveWaitMs: 0 } }),
  ];
  const host = await startHost(actors, runtime, { transport, log });
  say(
    `actors: ${host.actors.map((a) => a.name).join(", ")}, tom, observatory (${obs.url}) — ` +
      "on the in-process transport",
  );

  // The replay, as the Hopskotch gateway would deliver it onto alerts.in.<kind>: the GW alerts,
  // and once the classifier has their sky maps, the rest (see demoTimeline).
  const { gw, rest, total } = await demoTimeline(options);
  const progress = createProgress(total, createLogger({ level: options.quiet ? "error" : "info" }));
  const classifier = host.actors.find((a) => a.name === classifierActor.name)!.consumer;
  let sent = 0;
  for (const [i, events] of [gw, rest].entries()) {
    const r = await runReplay(events, {
      speed: "max",
      group: "kb-demo",
      runId: "demo",
      sink: transportSink(transport, "kilonova-broker-demo"),
      onProgress: (n, last) => progress.update(sent + n, last),
    });
    sent += r.sent;
    if (i === 0) {
      await settle(() => consumerBacklog(transport, [classifier]), { quietLooks: 1, everyMs: 50 });
    }
  }
  progress.stop();

  // Until every actor has drained its backlog and every observation request has finished.
  const consumers = [
    ...host.actors.map((a) => a.consumer),
    ...(tom.host?.actors.map((a) => a.consumer) ?? []),
  ];
  await settle(async () => ({
    ...await consumerBacklog(transport, consumers),
    observatory: obs.observatory.list().filter((g) => g.state === "PENDING").length,
    "open requests": await openRequests(sql),
  }), { report: (b) => options.quiet || console.error(`settling: ${JSON.stringify(b)}`) });

  const summary = await collectSummary(sql, transport, {
    mode: "embedded",
    alertsIn: sent,
    t0,
  });
  const token = tom.devIssuer ? await tom.devIssuer.tokenFor("pi") : "";
  const stop = async () => {
    await host.stop();
    await tom.stop();
    await obs.stop();
    await transport.close();
    await pg.stop();
  };
  return {
    summary,
    tomUrl: tom.url,
    token,
    login: `development issuer, valid 5 minutes; more from ${tom.url}/dev-oidc`,
    web: {
      url: `${tom.url}/targets/`,
      signIn: `sign in as "pi", password "pi-pw", at the development issuer's form`,
    },
    stop,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      stack: { type: "string", default: "embedded" },
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
  if (values.stack !== "embedded" && values.stack !== "local") {
    console.error(
      `--stack must be embedded (one process, no servers) or local (the local servers)`,
    );
    Deno.exit(2);
  }
  const { summary, tomUrl, token, login, web, stop } = await runDemo({
    stack: values.stack,
    synthetic,
    seed,
    keep: values.keep,
  });
  printSummary(summary, tomUrl, token, login, web);
  if (values.keep) {
    console.log("\nthe TOM stays up; Ctrl-C stops everything");
    const onSignal = () => stop().then(() => Deno.exit(0));
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
  } else {
    console.log("\n(the TOM stops now: `./kb task demo --keep` keeps it up to browse)");
    await stop();
    Deno.exit(0);
  }
}
