/**
 * Abuse suite (issue 11, `deno task test:abuse`; the JWT attack suite,
 * `gateway/tom/auth/attacks_test.ts`, runs beside it in the same task).
 *
 * Kafka door: more than 10,000 hostile records generated with fast-check
 * (e2e/hostile.ts) interleaved with valid synthetic-sky alerts, through the
 * whole pipeline as processes on a private NATS/PostgreSQL/Kafka. Every record
 * meant to be refused is dead-lettered (`KB_DLQ`) with a reason by the gateway
 * or by the archiver; every valid alert — and every valid alert carrying
 * bus-steering headers — is archived as itself; no process exits. The
 * throughput of valid alerts with and without the hostile mix is printed, not
 * asserted.
 *
 * HTTP door (the TOM as a process on the shared PostgreSQL and Keycloak):
 * oversized bodies, slowloris clients, SQL-injection strings in every parameter
 * of every GET route of the TOM's own /openapi.json, and path traversal on the
 * static asset paths → 4xx, never 5xx; no row changes; fast clients are served
 * while slow ones dribble their headers.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import fc from "fast-check";
import { CHANNELS, type DeadLetter } from "../contracts/messages.ts";
import { STREAMS } from "../contracts/names.ts";
import { connect, migrate, type Sql } from "../db/mod.ts";
import type { NatsTransport } from "../actors/runtime/nats_transport.ts";
import { sleep, waitFor } from "../actors/runtime/testing.ts";
import { loadEncoders } from "../actors/source_publisher/payloads.ts";
import { Rng } from "../actors/source_publisher/synthetic/rng.ts";
import { kafkaClient } from "../gateway/hopskotch/kafka.ts";
import { INBOUND_NAME } from "../gateway/hopskotch/inbound.ts";
import { hopHeaders } from "../gateway/hopskotch/wire.ts";
import { ingestDerivedAlert } from "../gateway/tom/broker/ingest.ts";
import { derivedAlert, keycloak, passwordToken, spawnTom } from "../gateway/tom/testing.ts";
import { rawGet, rawRequest, slowClient } from "./http.ts";
import { hostileArbitrary, type HostileCase, hugeJsonArbitrary, sampleCases } from "./hostile.ts";
import { createTopics, plainKafka } from "./kafka.ts";
import { backlog, Pipeline } from "./pipeline.ts";
import { waitWhileProgressing } from "./progress.ts";
import { skyAlerts } from "./sky.ts";
import { connectStackNats, startPrivateStack } from "./stack.ts";

const SEED = Number(Deno.env.get("KB_ABUSE_SEED") ?? 20170817);
const HOSTILE = 10_400;
const HUGE = 20;
const VALID = 2_000; // per phase
const BASE_PORT = 25430;
const MAX_RECORD = 256 * 1024;
const opts = { sanitizeOps: false, sanitizeResources: false };

interface Sent {
  readonly offset: number;
  readonly hostile?: HostileCase;
  /** hop `_id` of a valid alert. */
  readonly validId?: string;
}

/** Produces records in order to a one-partition topic; returns each one's offset. */
async function produce(
  brokers: string,
  topic: string,
  records: { value: Buffer; headers: Record<string, Buffer | Buffer[]>; key?: string }[],
): Promise<number[]> {
  const producer = kafkaClient(plainKafka(brokers)).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const offsets: number[] = [];
  try {
    // One request per ≤ 100 records and ≤ 900 kB (a record batch must fit Kafka's 1 MB limit).
    for (let i = 0; i < records.length;) {
      let bytes = 0;
      let j = i;
      while (
        j < records.length && j - i < 100 && (j === i || bytes + records[j].value.length < 900_000)
      ) {
        bytes += records[j++].value.length;
      }
      const part = records.slice(i, j);
      const [meta] = await producer.send({ topic, acks: -1, messages: part });
      const base = Number(meta.baseOffset);
      part.forEach((_, k) => offsets.push(base + k));
      i = j;
    }
  } finally {
    await producer.disconnect();
  }
  return offsets;
}

async function archivedCount(sql: Sql, ids: readonly string[]): Promise<number> {
  const [r] = await sql`select count(*)::int as n from alerts
    where hop_id = any(${ids as string[]}::uuid[]) and status = 'typed'`;
  return r.n as number;
}

Deno.test(
  `abuse, Kafka door: ${
    HOSTILE + HUGE
  } fast-check hostile records dead-lettered with reasons, interleaved valid alerts archived, no process exits`,
  opts,
  async () => {
    const t0 = performance.now();
    const stack = await startPrivateStack("abuse", BASE_PORT);
    const brokers = stack.env.KB_KAFKA_BROKERS;
    const sql = connect(stack.env.KB_DATABASE_URL, { max: 2 });
    const clean = "kb-e2e.optical-clean";
    const mixed = "kb-e2e.optical-mixed";
    const pipeline = new Pipeline({
      env: stack.env,
      brokers,
      sourceTopics: [clean, mixed],
      resultsTopic: "kb-e2e.abuse-results",
      group: "kb-e2e-abuse-inbound",
      extraEnv: {
        KB_HOP_MAX_RECORD_BYTES: String(MAX_RECORD),
        KB_BACKOFF_BASE_MS: "200",
        // Hostile records are slow to judge on a starved machine: heartbeat Kafka every 50.
        KB_HOP_IN_SESSION_TIMEOUT_MS: "30000",
        KB_HOP_IN_CHUNK: "50",
      },
    });
    let nats: NatsTransport | undefined;
    try {
      await migrate(sql);
      await createTopics(plainKafka(brokers), [clean, mixed, "kb-e2e.abuse-results"], 1);
      const enc = await loadEncoders();
      const hostile = [
        ...sampleCases(hostileArbitrary(enc), HOSTILE, SEED),
        ...sampleCases(hugeJsonArbitrary(), HUGE, SEED + 1),
      ];
      const sky = await skyAlerts(2 * VALID, { seed: SEED, candidates: VALID / 5, prefix: "KBA" });
      const valid = (i: number) => {
        const r = sky.record(i);
        return {
          value: Buffer.from(r.value),
          headers: hopHeaders({ format: "avro", id: r.id!, sender: "kb-e2e-abuse" }),
          key: String(r.key),
        };
      };
      await pipeline.startAll();
      nats = await connectStackNats(stack.env, "kb-e2e-abuse");

      // Phase A: valid alerts alone.
      const idsA = sky.ids.slice(0, VALID);
      const startA = performance.now();
      await produce(brokers, clean, Array.from({ length: VALID }, (_, i) => valid(i)));
      await waitWhileProgressing("phase A archived", async () => {
        const n = await archivedCount(sql, idsA);
        return { done: n >= VALID, progress: n, detail: `${n} of ${VALID} archived` };
      }, { everyMs: 100 });
      const rateA = VALID / ((performance.now() - startA) / 1000);

      // Phase B: the same number of valid alerts among the hostile records (the last one valid).
      const rng = new Rng(SEED, 3);
      const order: ({ hostile: HostileCase } | { valid: number })[] = [];
      let h = 0;
      let v = VALID;
      while (h < hostile.length || v < 2 * VALID - 1) {
        const pickHostile = v >= 2 * VALID - 1 ||
          (h < hostile.length && rng.uniform() < hostile.length / (hostile.length + VALID));
        order.push(pickHostile ? { hostile: hostile[h++] } : { valid: v++ });
      }
      order.push({ valid: v++ });
      const idsB = sky.ids.slice(VALID, 2 * VALID);
      const startB = performance.now();
      const offsets = await produce(
        brokers,
        mixed,
        order.map((o) => "hostile" in o ? o.hostile : valid(o.valid)),
      );
      const sent: Sent[] = order.map((o, i) =>
        "hostile" in o
          ? { offset: offsets[i], hostile: o.hostile }
          : { offset: offsets[i], validId: sky.ids[o.valid] }
      );
      await waitWhileProgressing("phase B valid alerts archived", async () => {
        const n = await archivedCount(sql, idsB);
        return { done: n >= VALID, progress: n, detail: `${n} of ${VALID} archived` };
      }, { everyMs: 100 });
      const rateB = VALID / ((performance.now() - startB) / 1000);
      await waitWhileProgressing("every stage idle", async () => {
        const b = await backlog(nats!);
        return { done: b.idle, progress: -b.left, detail: b.detail };
      });
      await sleep(1_000);

      // Dead letters by the Kafka offset of the record they came from.
      const dec = new TextDecoder();
      const byOffset = new Map<number, { actor: string; reason: string; detail: string }[]>();
      const perActor: Record<string, number> = {};
      for await (const m of nats.read(STREAMS.deadLetters.name)) {
        const d: DeadLetter = CHANNELS.deadLetters.schema.parse(JSON.parse(dec.decode(m.data)));
        perActor[`${d.actor}/${d.reason}`] = (perActor[`${d.actor}/${d.reason}`] ?? 0) + 1;
        let topic: string | undefined;
        let offset: number | undefined;
        if (d.actor === INBOUND_NAME) {
          topic = d.original.headers["kafka-topic"];
          offset = Number(d.original.headers["kafka-offset"]);
        } else {
          try {
            const env = JSON.parse(dec.decode(Buffer.from(d.original.dataBase64, "base64")));
            topic = env?.kafka?.topic;
            offset = Number(env?.kafka?.offset);
          } catch { /* not an envelope (a result or derived alert) */ }
        }
        if (topic !== mixed || offset === undefined || Number.isNaN(offset)) continue;
        const list = byOffset.get(offset) ?? [];
        list.push({ actor: d.actor, reason: d.reason, detail: d.detail });
        byOffset.set(offset, list);
      }

      const perCategory: Record<string, { n: number; deadLettered: number }> = {};
      const missing: string[] = [];
      for (const s of sent) {
        const letters = byOffset.get(s.offset) ?? [];
        if (s.hostile) {
          const c = (perCategory[s.hostile.category] ??= { n: 0, deadLettered: 0 });
          c.n++;
          if (letters.length) c.deadLettered++;
          if (s.hostile.expect === "dead-letter") {
            if (!letters.some((l) => l.reason && l.detail.length > 5)) {
              missing.push(`${s.hostile.category} at offset ${s.offset}`);
            }
          } else {
            assert.deepEqual(letters, [], `${s.hostile.category} at ${s.offset} is not refused`);
          }
        } else {
          assert.deepEqual(letters, [], `valid alert at offset ${s.offset} is not dead-lettered`);
        }
      }
      assert.deepEqual(
        missing.slice(0, 20),
        [],
        `${missing.length} hostile records not dead-lettered`,
      );
      const arrive = sent.flatMap((s) => s.hostile?.expect === "arrive" ? [s.hostile.id!] : []);
      assert.ok(arrive.length > 100, "the generator made bus-steering cases");
      assert.equal(await archivedCount(sql, arrive), arrive.length, "steered alerts archived");
      assert.equal(await archivedCount(sql, [...idsA, ...idsB]), 2 * VALID);
      const [rej] = await sql`select count(*)::int as n from alerts where status = 'rejected'
        and (status_detail is null or status_detail = '')`;
      assert.equal(rej.n, 0, "every rejected archive row says why");
      assert.deepEqual(pipeline.crashes, [], "no process exited");

      const dlqTotal = Object.values(perActor).reduce((a, b) => a + b, 0);
      console.log(
        [
          `hostile records: ${hostile.length} (seed ${SEED}); dead letters ${dlqTotal}`,
          ...Object.entries(perCategory).map(([k, c]) =>
            `  ${k}: ${c.n} sent, ${c.deadLettered} dead-lettered`
          ),
          `dead letters by actor/reason: ${JSON.stringify(perActor)}`,
          `valid alerts archived/s: ${rateA.toFixed(0)} alone, ${
            rateB.toFixed(0)
          } among the hostile mix (${VALID} each, Kafka produce to archive)`,
          `wall time ${((performance.now() - t0) / 1000).toFixed(0)} s`,
        ].join("\n"),
      );
    } finally {
      await pipeline.stopAll();
      await nats?.close().catch(() => {});
      await sql.end({ timeout: 5 }).catch(() => {});
      await stack.destroy();
    }
  },
);

// ---- the HTTP door ------------------------------------------------------------

const SQLI = [
  "' OR '1'='1",
  "' OR 1=1 --",
  "1; DROP TABLE tom_targets; --",
  "'; DELETE FROM tom_targets; --",
  "1' UNION SELECT null, current_user, version() --",
  '"; SELECT pg_sleep(2); --',
  "1) OR (1=1",
  "' || (SELECT string_agg(name, ',') FROM tom_targets) || '",
  "$$; TRUNCATE tom_alerts; $$",
  "%27%20OR%201%3D1",
  "\\'; DROP TABLE alerts; --",
  "admin'--",
  "1e309",
  "-1",
  "99999999999999999999999999",
  "NaN",
  "\u0000",
  "' AND 1=CAST((SELECT version()) AS int) --",
  "x".repeat(5000),
];

/** Row counts of every table, except request logs that a GET may write (audit, sessions). */
async function snapshot(sql: Sql): Promise<Record<string, number | string>> {
  const tables = await sql<{ name: string }[]>`select table_name as name
    from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'
      and table_name !~ '(audit|session|rate|login|kb_migrations)' order by 1`;
  const out: Record<string, number | string> = {};
  for (const { name } of tables) {
    const [r] = await sql.unsafe(`select count(*)::int as n from "${name}"`);
    out[name] = r.n;
  }
  const [h] = await sql`select md5(coalesce(string_agg(t::text, ',' order by id), '')) as h
    from (select id, name, ra, dec, score, permissions from tom_targets) t`;
  out["tom_targets (content)"] = h.h;
  return out;
}

interface OpenApi {
  paths: Record<
    string,
    Record<string, { parameters?: { name: string; in: string; required?: boolean }[] }>
  >;
}

Deno.test(
  "abuse, HTTP door: oversized bodies, slowloris, SQL injection in every GET filter, path traversal → 4xx, no 5xx, no data change",
  opts,
  async () => {
    const kc = keycloak();
    // A private PostgreSQL: other suites restart the shared one (a 503 then is right, not ours).
    const stack = await startPrivateStack("abuse-http", BASE_PORT + 10, ["postgres"]);
    const dbUrl = stack.env.KB_DATABASE_URL;
    const tom = await spawnTom({
      KB_DATABASE_URL: dbUrl,
      KB_TOM_BROKER: "false",
      KB_OIDC_ISSUER: kc.issuer,
      KB_OIDC_AUDIENCE: kc.audience,
      KB_TOM_RATE_LIMIT: "false",
    });
    const port = Number(new URL(tom.url).port);
    const sql = connect(dbUrl, { max: 2 });
    const statuses: Record<string, Record<number, number>> = {};
    const count = (what: string, status: number) => {
      const s = (statuses[what] ??= {});
      s[status] = (s[status] ?? 0) + 1;
    };
    try {
      await waitFor("the TOM's tables", async () => {
        const [r] = await sql`select to_regclass('tom_targets') is not null as ok`;
        return r.ok;
      }, 30_000);
      for (let i = 0; i < 25; i++) {
        await ingestDerivedAlert(
          sql,
          derivedAlert({
            name: `KBABUSE-${i}`,
            ra: 197 + i * 0.01,
            dec: -23 + i * 0.01,
            resultId: `abuse-${i}`,
            revision: 1,
            kilonova: i / 25,
            computedAt: new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString(),
            eventId: "S170817a",
          }).content,
        );
      }
      const [admin, adminPw] = Object.entries(kc.users).find(([u]) => u === "admin")!;
      const token = await passwordToken(kc.issuer, kc.testClient, admin, adminPw);
      const auth = { authorization: `Bearer ${token}` };
      const before = await snapshot(sql);

      // SQL injection in every parameter of every GET route.
      const doc = await (await fetch(`${tom.url}/openapi.json`)).json() as OpenApi;
      const routes = Object.entries(doc.paths).filter(([, ops]) => ops.get);
      assert.ok(routes.length >= 5, `the OpenAPI document lists GET routes (${routes.length})`);
      let filters = 0;
      let injections = 0;
      for (const [path, ops] of routes) {
        const params = (ops.get.parameters ?? []).filter((p) =>
          p.in === "query" || p.in === "path"
        );
        const fill = (p: string, name: string, value: string) =>
          p.replace(`{${name}}`, encodeURIComponent(value));
        const base = (ops.get.parameters ?? []).filter((p) => p.in === "path")
          .reduce((p, x) => fill(p, x.name, "1"), path);
        for (const param of params) {
          filters++;
          for (const attack of SQLI) {
            const url = param.in === "path"
              ? (ops.get.parameters ?? []).filter((p) => p.in === "path").reduce(
                (p, x) => fill(p, x.name, x.name === param.name ? attack : "1"),
                path,
              )
              : `${base}?${new URLSearchParams({ [param.name]: attack })}`;
            const res = await fetch(`${tom.url}${url}`, { headers: auth });
            const body = await res.text();
            injections++;
            count("sql injection", res.status);
            assert.ok(
              res.status < 500,
              `GET ${url} → ${res.status} ${body.slice(0, 300)}`,
            );
            assert.doesNotMatch(body, /PostgreSQL \d|syntax error at or near/i, `GET ${url}`);
          }
        }
      }
      assert.ok(filters >= 5, `GET routes have filters (${filters})`);

      // Path traversal on the static asset paths (sent raw: fetch would normalise them).
      const known = await rawGet(port, "/static/app.js");
      const segments = ["..", "%2e%2e", "%252e%252e", ".%2e", "%c0%ae%c0%ae", "..\\", "....//"];
      const targets = ["etc/passwd", "deno.json", "gateway/tom/server.ts", ".local/", "%00"];
      const traversals = [
        ...fc.sample(
          fc.tuple(
            fc.array(fc.constantFrom(...segments), { minLength: 1, maxLength: 8 }),
            fc.constantFrom("/", "%2f", "%252f", "\\", "%5c"),
            fc.constantFrom(...targets),
          ).map(([segs, sep, target]) => `/static/${segs.join(sep)}${sep}${target}`),
          { numRuns: 300, seed: SEED },
        ),
        "/static/app.js%00.png",
        "/static/%00",
        "/static/..;/..;/deno.json",
        "/static//etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        `/static/${"a".repeat(8000)}`,
      ];
      for (const path of traversals) {
        const r = await rawGet(port, path);
        count("path traversal", r.status);
        assert.ok(r.status >= 400 && r.status < 500, `GET ${path} → ${r.status}\n${r.head}`);
        assert.doesNotMatch(r.body, /root:x?:0:0|"importMap"|startTom/, `GET ${path} leaks a file`);
      }

      // Oversized bodies on every write route, and bodies that lie about their size.
      const writes = Object.entries(doc.paths).flatMap(([path, ops]) =>
        ["post", "put", "patch"].filter((m) => ops[m]).map((m) => ({
          method: m.toUpperCase(),
          path: path.replace(/\{[^}]+\}/g, "1"),
        }))
      );
      assert.ok(writes.length >= 1, "the OpenAPI document lists write routes");
      const huge = `{"name":"${"A".repeat(12 * 1024 * 1024)}"}`;
      for (const w of writes) {
        for (const withAuth of [true, false]) {
          const head = `${w.method} ${w.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${huge.length}\r\n` +
            (withAuth ? `Authorization: Bearer ${token}\r\n` : "") + "Connection: close\r\n\r\n";
          const r = await rawRequest(port, head + huge, 60_000);
          count("oversized body", r.status);
          assert.ok(
            r.status === 0 || (r.status >= 400 && r.status < 500),
            `${w.method} ${w.path} with 12 MiB → ${r.status}\n${r.head}`,
          );
        }
        for (const cl of ["-1", "abc", "1, 2", "99999999999999999999"]) {
          const r = await rawRequest(
            port,
            `${w.method} ${w.path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${cl}\r\n` +
              `Authorization: Bearer ${token}\r\nConnection: close\r\n\r\n{}`,
            10_000,
          );
          count("lying content-length", r.status);
          assert.ok(
            r.status === 0 || (r.status >= 400 && r.status < 500),
            `CL ${cl} → ${r.status}`,
          );
        }
      }

      // Slowloris: 40 clients dribble header bytes; others are served meanwhile.
      const listPath: string | undefined = routes.map(([p]) => p).find((p) =>
        p.startsWith("/api/") && !p.includes("{")
      );
      assert.ok(listPath, "a GET route without path parameters");
      const slow = await Promise.all(Array.from({ length: 40 }, () => slowClient(port, 100)));
      const latencies: number[] = [];
      try {
        await sleep(500);
        for (let i = 0; i < 20; i++) {
          const t = performance.now();
          const res: Response = await fetch(`${tom.url}${listPath}`, {
            headers: auth,
            signal: AbortSignal.timeout(10_000),
          });
          await res.body?.cancel();
          latencies.push(performance.now() - t);
          count("served during slowloris", res.status);
          assert.equal(res.status, 200, "a normal request is served while slow clients dribble");
          await sleep(100);
        }
        assert.ok(slow.some((s) => s.sent() > 20), "the slow clients were still sending");
      } finally {
        for (const s of slow) s.close();
        await Promise.all(slow.map((s) => s.done));
      }

      const after = await snapshot(sql);
      assert.deepEqual(after, before, "no data changed");
      assert.equal(tom.child.pid > 0, true);
      const alive = await fetch(`${tom.url}/healthz`);
      assert.equal(alive.status, 200, "the TOM is still up");
      await alive.body?.cancel();
      latencies.sort((a, b) => a - b);
      console.log(
        [
          `GET routes ${routes.length}, filters ${filters}, injection requests ${injections}; ` +
          `traversal paths ${traversals.length}; write routes ${writes.length}`,
          `statuses: ${JSON.stringify(statuses)}`,
          `during slowloris (40 clients): p50 ${latencies[10].toFixed(0)} ms, max ${
            latencies[latencies.length - 1].toFixed(0)
          } ms; known asset /static/app.js → ${known.status}`,
        ].join("\n"),
      );
    } finally {
      tom.kill("SIGTERM");
      await tom.status.catch(() => {});
      await sql.end({ timeout: 5 }).catch(() => {});
      await stack.destroy();
    }
  },
);
