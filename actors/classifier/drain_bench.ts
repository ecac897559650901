/**
 * The classifier process draining a backlog, alone: a private nats-server,
 * one GW alert then `candidates × points` optical alerts (AT2017gfo's points
 * after the merger, each candidate at its own position near the counterpart,
 * candidates interleaved), then `actors/main.ts classifier` is started and the
 * results are counted. Prints the rate and the process's CPU per alert between
 * 10% and 90% of the results (the steady part of the drain).
 *
 *   ./kb run -A actors/classifier/drain_bench.ts [maxInFlight=64] [candidates=500] [points=20]
 *
 * - `KB_DRAIN_SKY=<count>`: publish `count` alerts of the e2e bench's synthetic
 *   sky instead, in the envelopes the inbound gateway makes of them (Avro
 *   records, `raw.base64`; ~7.7 KB each): the classifier's input in
 *   `deno task bench e2e`.
 * - `KB_DRAIN_PROFILE_PORT=<port>`: CPU-profile the classifier over the same
 *   10%→100% span through the V8 inspector (bench/profile.ts) and print its top
 *   functions; `KB_DRAIN_PROFILE_OUT=<file>` also writes the `.cpuprofile`.
 *
 * Not a registered bench (it needs no other server); docs/classifier.md quotes it.
 *
 * @module
 */
import { STREAMS, SUBJECTS } from "../../contracts/names.ts";
import { NatsTransport } from "../runtime/nats_transport.ts";
import { sleep, spawnProcess, startPrivateNats } from "../runtime/testing.ts";
import {
  inspectFlag,
  type Recording,
  startCpuProfile,
  summarizeProfile,
} from "../../bench/profile.ts";
import { loadDataset } from "../source_publisher/mod.ts";
import { envelope, gfoAlerts, gwAlert, multiOrderMap, toBase64 } from "./testing.ts";
import { Buffer } from "node:buffer";
import { readSkyMapFile } from "../../astro/mod.ts";
import { encodeEnvelope, judgeRecord } from "../../gateway/hopskotch/envelope.ts";
import { loadEncoders } from "../source_publisher/payloads.ts";
import { SkyAlertEncoder } from "../source_publisher/synthetic/events.ts";
import { SyntheticSky } from "../source_publisher/synthetic/generator.ts";
import { BAYESTAR_MAP_URL, GW170817_T0_MJD } from "./synthetic_set.ts";
import { procCpuTimes } from "../../bench/proc.ts";

async function cpuSeconds(pid: number): Promise<number> {
  const t = await procCpuTimes(pid);
  return t.user + t.sys;
}

/** Publishes with at most 500 acknowledgements outstanding. */
function publisher(t: NatsTransport) {
  let pending: Promise<unknown>[] = [];
  return {
    async publish(data: Uint8Array, msgId: string) {
      pending.push(t.publish(SUBJECTS.alertsIn("optical"), data, { msgId }));
      if (pending.length >= 500) {
        await Promise.all(pending);
        pending = [];
      }
    },
    flush: () => Promise.all(pending),
  };
}

/** AT2017gfo's detections after the merger as `nCand × nPoints` alerts, candidates interleaved. */
async function publishGfo(t: NatsTransport, nCand: number, nPoints: number): Promise<number> {
  const ds = await loadDataset();
  const enc = new TextEncoder();
  const base = gfoAlerts(ds)
    .filter((a) => a.candidate.mjd > ds.facts.t0Mjd && !a.candidate.upper_limit)
    .slice(0, nPoints);
  const c0 = ds.facts.counterpart;
  const p = publisher(t);
  let n = 0;
  for (const a of base) {
    for (let c = 0; c < nCand; c++) {
      const pos = {
        ra: c0.ra + ((c * 37) % 100) / 20 - 2.5,
        dec: c0.dec + ((c * 53) % 100) / 20 - 2.5,
      };
      const record = {
        ...a,
        object_id: `cand-${c}`,
        alert_id: `a-${c}-${n}`,
        candidate: { ...a.candidate, ...pos },
        prv_candidates: a.prv_candidates?.map((p) => ({ ...p, ...pos })) ?? null,
      };
      n++;
      await p.publish(enc.encode(JSON.stringify(envelope("optical", record, n))), `opt-${n}`);
    }
  }
  await p.flush();
  return n;
}

/**
 * `count` alerts of the e2e bench's synthetic sky (bench/e2e.ts: `SyntheticSky` in the
 * BAYESTAR map of GW170817, time order, Avro-encoded by `SkyAlertEncoder`) in the envelopes the
 * inbound gateway publishes for them (`judgeRecord` + `encodeEnvelope`: Avro content,
 * `raw.base64`).
 */
async function publishSky(t: NatsTransport, count: number): Promise<number> {
  const map = await readSkyMapFile(BAYESTAR_MAP_URL);
  const sky = new SyntheticSky({
    n: Math.ceil(count / 12) + 50,
    seed: 5,
    t0Mjd: GW170817_T0_MJD,
    map,
    idPrefix: "drain",
  });
  const encoder = new SkyAlertEncoder(sky, await loadEncoders());
  const judge = { topicKinds: [], maxRecordBytes: 1 << 24, includeTest: true };
  const p = publisher(t);
  let n = 0;
  for (const { candidate, k } of sky.alertsInTimeOrder()) {
    if (n >= count) break;
    const id = crypto.randomUUID();
    const v = judgeRecord({
      topic: "drain.optical-candidates",
      partition: 0,
      offset: String(n),
      timestamp: String(Date.now()),
      key: Buffer.from(candidate.objectId),
      value: Buffer.from(encoder.encode(candidate, k, id)),
      headers: { _format: Buffer.from("avro"), _id: Buffer.from(uuidBytes(id)) },
    }, judge);
    if (v.action !== "publish") {
      throw new Error(`the gateway would not publish alert ${n}: ${JSON.stringify(v)}`);
    }
    await p.publish(encodeEnvelope(v), `opt-${++n}`);
  }
  await p.flush();
  return n;
}

function uuidBytes(id: string): Uint8Array {
  const hex = id.replaceAll("-", "");
  return Uint8Array.from({ length: 16 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}

if (import.meta.main) {
  const [maxInFlight = "64", candidates = "500", points = "20"] = Deno.args;
  const skyAlerts = Number(Deno.env.get("KB_DRAIN_SKY") ?? 0);
  const inspectPort = Number(Deno.env.get("KB_DRAIN_PROFILE_PORT") ?? 0);
  // The private server runs without auth: drop the local stack's credentials.
  for (const k of ["KB_NATS_AUTH_DIR", "KB_NATS_NKEY_FILE", "KB_NATS_CREDS_FILE", "KB_NATS_USER"]) {
    Deno.env.delete(k);
  }
  const nats = await startPrivateNats();
  Deno.env.set("KB_NATS_URL", nats.url);
  try {
    const t = await NatsTransport.connect({ servers: nats.url, name: "classifier-drain-bench" });
    for (const s of [STREAMS.alertsIn, STREAMS.results, STREAMS.deadLetters]) {
      await t.ensureStream(s);
    }
    const ds = await loadDataset();
    const gw = envelope("gw", gwAlert(toBase64(await multiOrderMap(ds))), 0);
    await t.publish(SUBJECTS.alertsIn("gw"), new TextEncoder().encode(JSON.stringify(gw)), {
      msgId: "gw-1",
    });
    const n = skyAlerts
      ? await publishSky(t, skyAlerts)
      : await publishGfo(t, Number(candidates), Number(points));
    console.error(`backlog: 1 GW alert, ${n} optical alerts; starting the classifier`);
    const actor = await spawnProcess({
      name: "actor classifier",
      args: ["actors/main.ts", "classifier"],
      env: { KB_NATS_URL: nats.url, KB_CLASSIFIER_MAX_IN_FLIGHT: maxInFlight },
      readyWhen: (e) => (e.msg === "host ready" ? true : undefined),
      timeoutMs: 60_000,
      denoFlags: inspectPort ? [inspectFlag(inspectPort)] : [],
    });
    try {
      let recording: Recording | undefined;
      const samples: { at: number; count: number; cpu: number }[] = [];
      for (;;) {
        const count = (await t.streamState(STREAMS.results.name)).messages;
        const dlq = (await t.streamState(STREAMS.deadLetters.name)).messages;
        samples.push({ at: performance.now(), count, cpu: await cpuSeconds(actor.child.pid) });
        if (inspectPort && !recording && count >= 0.1 * n) {
          recording = await startCpuProfile(inspectPort);
        }
        if (count + dlq >= n) break;
        const stalled = samples.length > 100 && samples[samples.length - 100].count === count;
        if (stalled) throw new Error(`no result in 10 s at ${count} of ${n}: see the actor's log`);
        await sleep(100);
      }
      const profile = await recording?.stop();
      const at = (f: number) => samples.find((s) => s.count >= f * n) ?? samples.at(-1)!;
      const [a, b] = [at(0.1), at(0.9)];
      const seconds = (b.at - a.at) / 1000;
      const dlq = (await t.streamState(STREAMS.deadLetters.name)).messages;
      console.log(
        `classifier, ${maxInFlight} in flight: ${((b.count - a.count) / seconds).toFixed(0)} ` +
          `alerts/s, ${((b.cpu - a.cpu) * 1000 / (b.count - a.count)).toFixed(3)} ms CPU/alert, ` +
          `${((b.cpu - a.cpu) / seconds * 100).toFixed(0)}% of a core (10%→90% of ${n} results); ` +
          `${dlq} dead letters`,
      );
      if (profile) {
        const sum = summarizeProfile(profile, 30);
        console.log(`profile: busy ${sum.busyMs.toFixed(0)} ms, idle ${sum.idleMs.toFixed(0)} ms`);
        for (const h of sum.hot) {
          console.log(
            `${h.selfMs.toFixed(0).padStart(7)} ms ${h.pct.toFixed(1).padStart(5)}%  ${h.name}`,
          );
        }
        const out = Deno.env.get("KB_DRAIN_PROFILE_OUT");
        if (out) await Deno.writeTextFile(out, JSON.stringify(profile));
      }
    } finally {
      actor.kill("SIGTERM");
      await actor.status;
      await t.close();
    }
  } finally {
    await nats.stop();
  }
}
