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
 * Not a registered bench (it needs no other server); docs/classifier.md quotes it.
 *
 * @module
 */
import { STREAMS, SUBJECTS } from "../../contracts/names.ts";
import { NatsTransport } from "../runtime/nats_transport.ts";
import { sleep, spawnActor, startPrivateNats } from "../runtime/testing.ts";
import { loadDataset } from "../source_publisher/mod.ts";
import { envelope, gfoAlerts, gwAlert, multiOrderMap, toBase64 } from "./testing.ts";

const CLK_TCK = 100;

async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

if (import.meta.main) {
  const [maxInFlight = "64", candidates = "500", points = "20"] = Deno.args;
  const nCand = Number(candidates);
  const nPoints = Number(points);
  // The private server runs without auth: drop the local stack's credentials.
  for (const k of ["KB_NATS_AUTH_DIR", "KB_NATS_NKEY_FILE", "KB_NATS_CREDS_FILE", "KB_NATS_USER"]) {
    Deno.env.delete(k);
  }
  const nats = await startPrivateNats();
  Deno.env.set("KB_NATS_URL", nats.url);
  const enc = new TextEncoder();
  try {
    const t = await NatsTransport.connect({ servers: nats.url, name: "classifier-drain-bench" });
    for (const s of [STREAMS.alertsIn, STREAMS.results, STREAMS.deadLetters]) {
      await t.ensureStream(s);
    }
    const ds = await loadDataset();
    const gw = envelope("gw", gwAlert(toBase64(await multiOrderMap(ds))), 0);
    await t.publish(SUBJECTS.alertsIn("gw"), enc.encode(JSON.stringify(gw)), { msgId: "gw-1" });
    const base = gfoAlerts(ds)
      .filter((a) => a.candidate.mjd > ds.facts.t0Mjd && !a.candidate.upper_limit)
      .slice(0, nPoints);
    const c0 = ds.facts.counterpart;
    let n = 0;
    let pending: Promise<unknown>[] = [];
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
        const data = enc.encode(JSON.stringify(envelope("optical", record, n)));
        pending.push(t.publish(SUBJECTS.alertsIn("optical"), data, { msgId: `opt-${n}` }));
        if (pending.length >= 500) {
          await Promise.all(pending);
          pending = [];
        }
      }
    }
    await Promise.all(pending);
    console.error(`backlog: 1 GW alert, ${n} optical alerts; starting the classifier`);
    const actor = await spawnActor("classifier", {
      KB_NATS_URL: nats.url,
      KB_CLASSIFIER_MAX_IN_FLIGHT: maxInFlight,
    }, 60_000);
    try {
      const samples: { at: number; count: number; cpu: number }[] = [];
      for (;;) {
        const count = (await t.streamState(STREAMS.results.name)).messages;
        samples.push({ at: performance.now(), count, cpu: await cpuSeconds(actor.child.pid) });
        if (count >= n) break;
        await sleep(100);
      }
      const at = (f: number) => samples.find((s) => s.count >= f * n)!;
      const [a, b] = [at(0.1), at(0.9)];
      const seconds = (b.at - a.at) / 1000;
      const dlq = (await t.streamState(STREAMS.deadLetters.name)).messages;
      console.log(
        `classifier, ${maxInFlight} in flight: ${((b.count - a.count) / seconds).toFixed(0)} ` +
          `alerts/s, ${((b.cpu - a.cpu) * 1000 / (b.count - a.count)).toFixed(3)} ms CPU/alert, ` +
          `${((b.cpu - a.cpu) / seconds * 100).toFixed(0)}% of a core (10%→90% of ${n} results); ` +
          `${dlq} dead letters`,
      );
    } finally {
      actor.kill("SIGTERM");
      await actor.status;
      await t.close();
    }
  } finally {
    await nats.stop();
  }
}
