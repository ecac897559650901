/**
 * The alert-broker module end to end on the real servers: 10,000 derived
 * alerts for 2,000 candidates — 400 of which also appear under a second name a
 * fraction of an arcsecond away — published to JetStream; a TOM process
 * consumes them and is killed (SIGKILL) mid-stream and restarted. Afterwards
 * there are exactly 2,000 targets, no duplicate, each with its full score
 * history of 5 results in order, and the position duplicates are aliases.
 */
import assert from "node:assert/strict";
import { STREAMS } from "../../../contracts/names.ts";
import { CHANNELS } from "../../../contracts/messages.ts";
import { connectTestNats, natsUrl, waitFor } from "../../../actors/runtime/testing.ts";
import { connect } from "../../../db/mod.ts";
import { CONSUMERS } from "../../../contracts/names.ts";
import { createTestDatabase, derivedAlert, fetchToken, spawnTom } from "../testing.ts";
import { TOM_ACTOR } from "./actor.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Deterministic PRNG (mulberry32). */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CANDIDATES = 2000;
const PER_CANDIDATE = 5;
const DUPLICATED = 400;

Deno.test(
  "broker module: 10,000 alerts, 2,000 targets, dedup by name and position, restart mid-stream",
  opts,
  async () => {
    natsUrl();
    const db = await createTestDatabase();
    const nats = await connectTestNats("tom-broker-test");
    const random = rng(42);
    let child: Awaited<ReturnType<typeof spawnTom>> | undefined;
    const sql = connect(db.url, { max: 2 });
    try {
      // A clean stream and no leftover durable consumer from an earlier run.
      await nats.deleteStream(STREAMS.alertsOut.name).catch(() => {});
      await nats.ensureStream(STREAMS.alertsOut);

      // 2,000 candidates spread over the sky; the first 400 get a second name
      // 0.4″ away for revisions 3..5 (a survey re-detecting the object under a new id).
      const t0 = Date.parse("2026-01-01T00:00:00Z");
      const alerts = [];
      const expected = new Map<string, { names: Set<string>; scores: number[] }>();
      for (let i = 0; i < CANDIDATES; i++) {
        const ra = random() * 360;
        const dec = Math.asin(2 * random() - 1) * 180 / Math.PI;
        const name = `KB26c${String(i).padStart(5, "0")}`;
        const info = { names: new Set([name]), scores: [] as number[] };
        expected.set(name, info);
        for (let r = 1; r <= PER_CANDIDATE; r++) {
          const dup = i < DUPLICATED && r >= 3;
          const useName = dup ? `ZTF26dup${String(i).padStart(5, "0")}` : name;
          info.names.add(useName);
          const off = dup ? 0.4 / 3600 : 0;
          const kilonova = Math.round(random() * 1e6) / 1e6;
          info.scores.push(kilonova);
          alerts.push(derivedAlert({
            name: useName,
            ra: (ra + off / Math.max(0.05, Math.cos(dec * Math.PI / 180))) % 360,
            dec: Math.min(90, dec + (dup ? off / 2 : 0)),
            resultId: `res-${i}-${r}`,
            revision: r,
            kilonova,
            computedAt: new Date(t0 + i * 1000 + r * 60_000).toISOString(),
            eventId: i % 10 === 0 ? "S260101a" : "",
          }));
        }
      }
      // Shuffled: revisions and names of one object arrive in any order.
      for (let i = alerts.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [alerts[i], alerts[j]] = [alerts[j], alerts[i]];
      }
      const enc = new TextEncoder();
      for (let i = 0; i < alerts.length; i += 500) {
        await Promise.all(
          alerts.slice(i, i + 500).map((a) =>
            nats.publish(CHANNELS.derivedAlerts.subject, enc.encode(JSON.stringify(a)), {
              msgId: `tom-test:${a.content.data.result_id}`,
            })
          ),
        );
      }
      assert.equal((await nats.streamState(STREAMS.alertsOut.name)).messages, alerts.length);

      const env = {
        KB_NATS_URL: natsUrl(),
        KB_DATABASE_URL: db.url,
        KB_LOG_LEVEL: "info",
        KB_ACK_WAIT_MS: "5000",
        // The built-in development issuer (not the Keycloak of the test environment).
        KB_OIDC_ISSUER: "",
      };
      const filed = async () => Number((await sql`select count(*)::int as n from tom_alerts`)[0].n);

      child = await spawnTom(env);
      await waitFor("3,000 alerts filed", async () => (await filed()) >= 3000, 120_000, 100);
      child.kill("SIGKILL");
      await child.status;
      const atKill = await filed();
      assert.ok(atKill < alerts.length, `killed too late (${atKill} filed)`);

      child = await spawnTom(env);
      await waitFor(
        "every alert filed",
        async () => (await filed()) === alerts.length,
        300_000,
        200,
      );
      await waitFor(
        "consumer drained",
        async () => {
          const s = await nats.consumerState(STREAMS.alertsOut.name, CONSUMERS.ofActor(TOM_ACTOR));
          return s.pending === 0 && s.ackPending === 0;
        },
        30_000,
        100,
      );

      // Exactly the right targets.
      const [{ n: targets }] = await sql`select count(*)::int as n from tom_targets`;
      assert.equal(targets, CANDIDATES);
      const [{ n: aliases }] = await sql`select count(*)::int as n from tom_target_names`;
      assert.equal(aliases, DUPLICATED);
      const [{ n: filedTwice }] = await sql`select count(*)::int as n from
      (select result_id from tom_alerts group by result_id having count(*) > 1) s`;
      assert.equal(filedTwice, 0);
      const byMatch = Object.fromEntries(
        (await sql`select matched_by, count(*)::int as n from tom_alerts group by 1`).map((
          r,
        ) => [r.matched_by, r.n]),
      );
      assert.deepEqual(byMatch, {
        new: CANDIDATES,
        position: DUPLICATED,
        name: CANDIDATES * PER_CANDIDATE - CANDIDATES - DUPLICATED,
      });

      // Every candidate's names point at one target, with its full, ordered score history.
      const rows = await sql`select t.id, t.name, t.score,
        array(select n.name from tom_target_names n where n.target_id = t.id) as aliases,
        array(select a.score from tom_alerts a where a.target_id = t.id
              order by a.computed_at) as history
      from tom_targets t`;
      const byName = new Map<string, (typeof rows)[number]>();
      for (const r of rows) for (const n of [r.name, ...r.aliases]) byName.set(n, r);
      for (const [name, info] of expected) {
        const r = byName.get(name);
        assert.ok(r, `no target for ${name}`);
        assert.deepEqual(new Set([r.name, ...r.aliases]), info.names, `names of ${name}`);
        assert.deepEqual(r.history, info.scores, `score history of ${name}`);
        assert.equal(r.score, info.scores.at(-1), `latest score of ${name}`);
      }
      const [{ n: linked }] = await sql`select count(*)::int as n from tom_target_events
      where event_id = 'S260101a'`;
      assert.equal(linked, CANDIDATES / 10);

      // The API shows the same, with a development-issuer token.
      const token = await fetchToken(`${child.url}/dev-oidc`, {
        grant_type: "client_credentials",
        client_id: "tom-api",
        client_secret: "tom-api-dev-secret",
      });
      const get = async (path: string) => {
        const res = await fetch(`${child!.url}${path}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(res.status, 200, path);
        return await res.json();
      };
      const dup = await get("/api/targets/?name=ZTF26dup00007");
      assert.equal(dup.count, 1);
      assert.deepEqual(
        new Set([dup.results[0].name, ...dup.results[0].aliases]),
        expected.get("KB26c00007")!.names,
      );
      const hist = await get(`/api/results/?target_id=${dup.results[0].id}`);
      assert.deepEqual(
        hist.results.map((r: { score: number }) => r.score),
        expected.get("KB26c00007")!.scores,
      );
      const extras = await get(`/api/targets/${dup.results[0].id}/extras`);
      assert.equal(extras["P(kilonova)"], expected.get("KB26c00007")!.scores.at(-1));
      assert.equal(extras.model_version, "1.0.0");
      assert.equal(extras.explanation, "revision 5");
      const ev = await get("/api/events/S260101a/");
      assert.equal(ev.targets, CANDIDATES / 10);
    } finally {
      child?.kill("SIGTERM");
      await child?.status;
      await sql.end();
      await nats.deleteStream(STREAMS.alertsOut.name).catch(() => {});
      await nats.close();
      await db.drop();
    }
  },
);
