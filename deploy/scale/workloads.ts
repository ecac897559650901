/**
 * What the scale test feeds an actor and how it checks the result, per actor.
 * `echo` with CPU-bound pings stands in for the archiver and the classifier
 * until they land; each of them then adds a workload here (its backlog, its
 * outputs, its reset) and `deno task scale-test --actor <name>` measures it.
 *
 * @module
 */
import { CHANNELS } from "../../contracts/messages.ts";
import { STREAMS, SUBJECTS } from "../../contracts/names.ts";
import type { Transport } from "../../actors/runtime/transport.ts";

/** A backlog recipe and its checks for one actor. */
export interface Workload {
  /** The actor's registry name (`deno task actor <name>`). */
  readonly actor: string;
  /** One line on the simulated work, for the report. */
  describe(cpuMs: number): string;
  /** Deletes and recreates what a run uses, so every run starts from nothing. */
  reset(t: Transport): Promise<void>;
  /** Publishes `n` inputs (ids `scale-<i>`) asking for `cpuMs` of CPU each. */
  publish(t: Transport, n: number, cpuMs: number): Promise<void>;
  /** Outputs written so far, after `published` inputs (cheap, polled). */
  outputCount(t: Transport, published: number): Promise<number>;
  /** Reads every output: which input each answers, who handled it, on which attempt. */
  outputs(t: Transport): Promise<{ input: number; replica: string; attempt: number }[]>;
  /** Messages dead-lettered by the actor. */
  deadLetters(t: Transport): Promise<number>;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The echo actor: one pong per ping; pings burn `cpuMs` of CPU (`Ping.cpuMs`). */
export const echoWorkload: Workload = {
  actor: "echo",
  describe: (cpuMs) => `echo, ${cpuMs} ms of CPU per ping`,
  async reset(t) {
    for (const s of [STREAMS.demo, STREAMS.deadLetters]) {
      await t.deleteStream(s.name);
      await t.ensureStream(s);
    }
  },
  async publish(t, n, cpuMs) {
    const pending: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      const ping = CHANNELS.demoPing.schema.parse({ seq: i, sentAt: Date.now(), cpuMs });
      pending.push(
        t.publish(SUBJECTS.demoPing, enc.encode(JSON.stringify(ping)), { msgId: `scale-${i}` }),
      );
      if (pending.length >= 256) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
  },
  async outputCount(t, published) {
    // Pings and pongs share the stream; after publish() the pings are all there.
    return (await t.streamState(STREAMS.demo.name)).messages - published;
  },
  async outputs(t) {
    const out: { input: number; replica: string; attempt: number }[] = [];
    for await (const m of t.read(STREAMS.demo.name, { subject: SUBJECTS.demoPong })) {
      const p = CHANNELS.demoPong.schema.parse(JSON.parse(dec.decode(m.data)));
      out.push({ input: p.seq, replica: p.replica, attempt: p.attempt });
    }
    return out;
  },
  async deadLetters(t) {
    let n = 0;
    for await (
      const _ of t.read(STREAMS.deadLetters.name, { subject: SUBJECTS.deadLetter("echo") })
    ) {
      n++;
    }
    return n;
  },
};

/** Workloads by actor name. */
export const WORKLOADS: Record<string, Workload> = {
  [echoWorkload.actor]: echoWorkload,
};
