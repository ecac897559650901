/**
 * What both demo modes share: the observation strategy and observatory delay
 * of the demo, its options and result, the replay's timeline, and a classifier
 * with a state of its own.
 *
 * @module
 */
import type { ActorDefinition } from "../actors/runtime/actor.ts";
import { classifierActor, handleEnvelope } from "../actors/classifier/actor.ts";
import { ClassifierState } from "../actors/classifier/state.ts";
import {
  buildTimeline,
  loadDataset,
  loadEncoders,
  mergeByTime,
  syntheticEvents,
  SyntheticSky,
  type TimelineEvent,
} from "../actors/source_publisher/mod.ts";
import type { DemoSummary } from "./summary.ts";

/**
 * The demo's observation strategy: the TOM's default rule (P(kilonova) ≥ 0.5
 * inside the 90% region of a live event; g, r, i every 8 h for 3 days) with a
 * week-long cooldown, so a target is followed up once per event rather than
 * again each day the replay brings new photometry.
 */
export const DEMO_STRATEGY = { cooldownHours: 168 };

/** Real-time delay of the simulated observatory in the demo, ms. */
export const DEMO_OBSERVATORY_DELAY_MS = 300;

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** `embedded` (default): one process, no servers; `local`: the real local servers. */
  readonly stack?: "embedded" | "local";
  readonly synthetic?: number;
  readonly seed?: number;
  readonly keep?: boolean;
  readonly quiet?: boolean;
  /** `--stack local`: a NATS server other than the local stack's (tests use their own). */
  readonly natsUrl?: string;
}

/** What a demo run leaves: the summary, the TOM and a ready token, and how to stop. */
export interface DemoRun {
  readonly summary: DemoSummary;
  readonly tomUrl: string;
  readonly token: string;
  /** Where the token came from and how to get more. */
  readonly login: string;
  /** The web pages' address and who may sign in there, when the mode serves them. */
  readonly web?: { readonly url: string; readonly signIn: string };
  stop(): Promise<void>;
}

/** The classifier actor with a state of its own (a second run in one process starts afresh). */
export function freshClassifier(): ActorDefinition {
  const state = new ClassifierState();
  const actor: typeof classifierActor = {
    ...classifierActor,
    handler: (msg, ctx) => handleEnvelope(msg.data, msg.id, state, (m, f) => ctx.log.info(m, f)),
  };
  return actor as unknown as ActorDefinition;
}

/**
 * The replay's timeline (GW170817, plus a synthetic sky when asked) in two
 * parts: the IGWN alerts first, then everything else in time order. At full
 * speed the replay publishes its topics concurrently and the inbound gateway
 * reads them concurrently, so AT2017gfo's detections (11 h after the merger in
 * 2017) could otherwise reach the classifier before the sky map that makes them
 * kilonova candidates of S170817a, and the classifier does not re-score held
 * candidates when a map arrives late.
 */
export async function demoTimeline(options: { synthetic?: number; seed?: number }) {
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
  const all = [...mergeByTime(...streams)];
  return {
    gw: all.filter((e) => e.topic === "igwnAlert"),
    rest: all.filter((e) => e.topic !== "igwnAlert"),
    total,
  };
}
