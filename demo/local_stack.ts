/**
 * `deno task demo --stack local`: the demo on the real local servers, each part
 * of the pipeline its own process as in production. The replay publishes
 * GW170817 to Kafka topics `<group>.*` (SCRAM, like Hopskotch); the inbound
 * gateway bridges them onto NATS; the archiver, classifier, results publisher,
 * outbound gateway (derived alerts → Kafka `<group>.results`), simulated
 * observatory and TOM (tokens from Keycloak) run as processes on NATS and
 * PostgreSQL. The local servers are started with `bash deploy/local/stack.sh
 * up` when they are not running.
 *
 * Every run uses its own Kafka topics and consumer group (`kb-demo-<token>`)
 * and its own database (`kb_demo_<token>`, dropped at the end). The NATS
 * streams and consumers carry the pipeline's fixed names, so the run resets the
 * `KB_*` streams of the NATS server it uses (a test passes a server of its own).
 *
 * @module
 */
import { STREAMS, SUBJECTS, type TopicKey, topicName, TOPICS } from "../contracts/names.ts";
import { connect, type Sql } from "../db/mod.ts";
import { createLogger } from "../actors/runtime/log.ts";
import { NatsTransport } from "../actors/runtime/nats_transport.ts";
import {
  type SpawnedProcess,
  spawnProcess,
  uniqueToken,
  waitFor,
} from "../actors/runtime/testing.ts";
import { createProgress, hopSink, runReplay } from "../actors/source_publisher/mod.ts";
import { connectHopWriter, loadKafkaConfig } from "../gateway/hopskotch/mod.ts";
import { kafkaClient } from "../gateway/hopskotch/kafka.ts";
import { collectSummary } from "./summary.ts";
import { ARCHIVER_NAME } from "../actors/archiver/archiver.ts";
import { classifierActor } from "../actors/classifier/actor.ts";
import { RESULTS_PUBLISHER_NAME } from "../actors/results_publisher/publisher.ts";
import { OUTBOUND_NAME } from "../gateway/hopskotch/outbound.ts";
import { TOM_ACTOR } from "../gateway/tom/broker/actor.ts";
import { TOM_OBSERVATIONS_ACTOR } from "../gateway/tom/facilities/status_actor.ts";
import { CONSUMERS } from "../contracts/names.ts";
import { type Backlog, consumerBacklog, openRequests, settle } from "./settle.ts";
import {
  DEMO_OBSERVATORY_DELAY_MS,
  DEMO_STRATEGY,
  type DemoOptions,
  type DemoRun,
  demoTimeline,
} from "./common.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/** Runs `bash deploy/local/stack.sh <verb> <services>`; returns its exit code and stdout. */
async function stack(verb: string, services: string[], inherit = false) {
  const out = await new Deno.Command("bash", {
    args: ["deploy/local/stack.sh", verb, ...services],
    cwd: ROOT,
    stdin: "null",
    stdout: inherit ? "inherit" : "piped",
    stderr: inherit ? "inherit" : "piped",
  }).output();
  return { code: out.code, stdout: inherit ? "" : new TextDecoder().decode(out.stdout) };
}

/**
 * The local servers' environment (`stack.sh env`), starting them first
 * (`stack.sh up`) when `stack.sh status` finds one not running.
 */
export async function localStackEnv(
  services: string[],
  say: (s: string) => void,
): Promise<Record<string, string>> {
  if ((await stack("status", services)).code !== 0) {
    say(`starting the local servers: bash deploy/local/stack.sh up ${services.join(" ")}`);
    const up = await stack("up", services, true);
    if (up.code !== 0) {
      throw new Error(
        `bash deploy/local/stack.sh up ${services.join(" ")} failed (exit ${up.code}); ` +
          "its messages are above",
      );
    }
  }
  const env = await stack("env", services);
  if (env.code !== 0) throw new Error(`bash deploy/local/stack.sh env failed (exit ${env.code})`);
  const vars: Record<string, string> = {};
  for (const line of env.stdout.split("\n")) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) vars[m[1]] = m[2].replace(/^(['"])(.*)\1$/, "$2");
  }
  return vars;
}

function need(env: Record<string, string>, name: string): string {
  const v = env[name];
  if (!v) throw new Error(`bash deploy/local/stack.sh env printed no ${name}`);
  return v;
}

/** An access token of user `pi` from Keycloak (the password grant of the test client). */
async function keycloakToken(env: Record<string, string>): Promise<string> {
  const users = Object.fromEntries(
    need(env, "KB_OIDC_TEST_USERS").split(",").map((p) => p.split(":") as [string, string]),
  );
  const res = await fetch(`${need(env, "KB_OIDC_ISSUER")}/protocol/openid-connect/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "password",
      client_id: need(env, "KB_OIDC_TEST_CLIENT_ID"),
      client_secret: need(env, "KB_OIDC_TEST_CLIENT_SECRET"),
      username: "pi",
      password: users.pi ?? "",
      scope: "openid",
    }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || typeof body.access_token !== "string") {
    throw new Error(
      `Keycloak refused a token for user pi (${res.status}): ${JSON.stringify(body)}`,
    );
  }
  return body.access_token;
}

/** Runs the demo on the local servers; see the module comment. */
export async function runLocalStackDemo(options: DemoOptions): Promise<DemoRun> {
  const t0 = performance.now();
  const say = (s: string) => options.quiet || console.log(s);
  say("kilonova-broker demo — GW170817 on the local servers (--stack local)");
  const services = [...(options.natsUrl ? [] : ["nats"]), "postgres", "kafka", "keycloak"];
  const env = await localStackEnv(services, say);
  const natsUrl = options.natsUrl ?? need(env, "KB_NATS_URL");
  const run = `kb-demo-${uniqueToken()}`;
  const cleanup: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const f of cleanup.reverse()) {
      await f().catch((err) => console.error(`demo: a stop step failed: ${err}`));
    }
  };
  try {
    // NATS: the pipeline's streams, afresh (their consumers carry fixed names).
    const transport = await NatsTransport.connect({ servers: natsUrl, name: run });
    cleanup.push(() => transport.close());
    say(`resetting the pipeline's streams on ${natsUrl}`);
    for (const s of Object.values(STREAMS)) {
      await transport.deleteStream(s.name);
      await transport.ensureStream(s);
    }

    // PostgreSQL: a database of this run's own.
    const base = need(env, "KB_DATABASE_URL");
    const dbName = run.replaceAll("-", "_");
    const admin = connect(base, { max: 1, applicationName: "kb-demo" });
    await admin.unsafe(`create database ${dbName}`);
    await admin.end();
    cleanup.push(async () => {
      const a = connect(base, { max: 1, applicationName: "kb-demo" });
      await a.unsafe(`drop database if exists ${dbName} with (force)`);
      await a.end();
    });
    const dbUrl = new URL(base);
    dbUrl.pathname = `/${dbName}`;
    const databaseUrl = dbUrl.toString();

    // Kafka (SCRAM, like Hopskotch): this run's topics.
    const kafkaEnv = {
      KB_KAFKA_USERNAME: need(env, "KB_KAFKA_USERNAME"),
      KB_KAFKA_PASSWORD: need(env, "KB_KAFKA_PASSWORD"),
      KB_KAFKA_SECURITY_PROTOCOL: "SASL_PLAINTEXT",
      KB_KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
    };
    const kafkaUrl = `kafka://${kafkaEnv.KB_KAFKA_USERNAME}@${need(env, "KB_KAFKA_SASL_BROKERS")}`;
    const inTopics = (Object.keys(TOPICS) as TopicKey[]).map((k) => topicName(run, k));
    const resultsTopic = `${run}.results`;
    const kafkaAdmin = kafkaClient(loadKafkaConfig({ url: kafkaUrl, env: kafkaEnv })).admin();
    await kafkaAdmin.connect();
    cleanup.push(() => kafkaAdmin.disconnect());
    await kafkaAdmin.createTopics({
      waitForLeaders: true,
      topics: [...inTopics, resultsTopic].map((topic) => ({
        topic,
        numPartitions: 1,
        replicationFactor: 1,
      })),
    });
    cleanup.push(() => kafkaAdmin.deleteTopics({ topics: [...inTopics, resultsTopic] }));

    // The processes.
    const stateDir = await Deno.makeTempDir({ prefix: "kb-demo-observatory-" });
    cleanup.push(() => Deno.remove(stateDir, { recursive: true }));
    const procs: { name: string; p: SpawnedProcess<unknown> }[] = [];
    const logDir = `${ROOT}.local/demo/${run}`;
    cleanup.push(async () => {
      for (const { p } of [...procs].reverse()) {
        p.kill("SIGTERM");
        await p.status;
      }
      // Each process's log, for a look afterwards (JSON lines).
      await Deno.mkdir(logDir, { recursive: true });
      for (const { name, p } of procs) {
        await Deno.writeTextFile(
          `${logDir}/${name}.ndjson`,
          p.logs.map((l) => JSON.stringify(l)).join("\n") + "\n",
        );
      }
      say(`logs of each process: ${logDir}/`);
    });
    const common = { KB_NATS_URL: natsUrl, KB_LOG_LEVEL: "info" };
    const hostReady = (e: Record<string, unknown>) => (e.msg === "host ready" ? true : undefined);
    const spawn = async <T>(
      name: string,
      args: string[],
      extra: Record<string, string>,
      readyWhen: (e: Record<string, unknown>) => T | undefined,
    ) => {
      const p = await spawnProcess({
        name,
        args,
        env: { ...common, ...extra },
        readyWhen,
        timeoutMs: 120_000,
      });
      procs.push({ name, p: p as SpawnedProcess<unknown> });
      return p;
    };
    const actor = (name: string, extra: Record<string, string> = {}) =>
      spawn(name, ["actors/main.ts", name], extra, hostReady);
    const [obs] = await Promise.all([
      spawn("observatory", ["actors/observatory/main.ts"], {
        KB_OBSERVATORY_PORT: "0",
        KB_OBSERVATORY_DELAY_MS: String(DEMO_OBSERVATORY_DELAY_MS),
        KB_OBSERVATORY_STATE_DIR: stateDir,
      }, (e) => (e.msg === "observatory ready" ? String(e.url) : undefined)),
      actor(ARCHIVER_NAME, { KB_DATABASE_URL: databaseUrl }),
      actor(classifierActor.name),
      actor(RESULTS_PUBLISHER_NAME, { KB_DATABASE_URL: databaseUrl }),
      actor(OUTBOUND_NAME, {
        ...kafkaEnv,
        KB_HOP_OUT_URL: kafkaUrl,
        KB_HOP_OUT_TOPICS: `results=${resultsTopic}`,
      }),
      spawn("hop-inbound", ["gateway/hopskotch/inbound_main.ts"], {
        ...kafkaEnv,
        KB_HOP_IN_URL: `${kafkaUrl}/${inTopics.join(",")}`,
        KB_HOP_IN_GROUP: `${run}-inbound`,
        KB_HOP_IN_START: "earliest",
        KB_HOP_IN_TOPIC_RECHECK_MS: "1000",
      }, hostReady),
    ]);
    const tom = await spawn("tom", ["gateway/tom/main.ts"], {
      KB_DATABASE_URL: databaseUrl,
      KB_OIDC_ISSUER: need(env, "KB_OIDC_ISSUER"),
      KB_OIDC_AUDIENCE: need(env, "KB_OIDC_AUDIENCE"),
      KB_TOM_PORT: "0",
      KB_TOM_FACILITY_URL: obs.ready,
      KB_TOM_RECONCILE_MS: "5000",
      KB_TOM_STRATEGY: JSON.stringify(DEMO_STRATEGY),
    }, (e) => (e.msg === "tom ready" ? String(e.url) : undefined));
    say(
      "processes: hop-inbound, archiver, classifier, results-publisher, hopskotch-outbound, " +
        `observatory (${obs.ready}), tom (${tom.ready}) — on NATS ${natsUrl}, Kafka ${run}.*`,
    );

    // The replay, to Kafka: the GW alerts, and once the classifier has their sky maps, the rest
    // (see demoTimeline).
    const sql: Sql = connect(databaseUrl, { max: 2, applicationName: "kb-demo" });
    cleanup.push(() => sql.end({ timeout: 5 }));
    const { gw, rest, total } = await demoTimeline(options);
    const writer = await connectHopWriter(loadKafkaConfig({ url: kafkaUrl, env: kafkaEnv }), {
      allowAutoTopicCreation: false,
    });
    const progress = createProgress(
      total,
      createLogger({ level: options.quiet ? "error" : "info" }),
    );
    const classifier = {
      stream: STREAMS.alertsIn.name,
      durable: CONSUMERS.ofActor(classifierActor.name),
    };
    let sent = 0;
    try {
      for (const [i, events] of [gw, rest].entries()) {
        const r = await runReplay(events, {
          speed: "max",
          group: run,
          runId: run,
          sink: hopSink(writer),
          onProgress: (n, last) => progress.update(sent + n, last),
        });
        sent += r.sent;
        if (i > 0) continue;
        await waitFor(
          "the GW alerts through Kafka to the classifier",
          async () => {
            let n = 0;
            const subject = SUBJECTS.alertsIn("gw");
            for await (const _ of transport.read(STREAMS.alertsIn.name, { subject })) n++;
            if (n < gw.length) return false;
            const s = await transport.consumerState(classifier.stream, classifier.durable);
            return s.pending + s.ackPending === 0;
          },
          120_000,
          100,
        );
      }
    } finally {
      progress.stop();
      await writer.close();
    }

    const durables = ([
      [STREAMS.alertsIn, ARCHIVER_NAME],
      [STREAMS.alertsIn, classifierActor.name],
      [STREAMS.results, RESULTS_PUBLISHER_NAME],
      [STREAMS.alertsOut, OUTBOUND_NAME],
      [STREAMS.alertsOut, TOM_ACTOR],
      [STREAMS.observations, TOM_OBSERVATIONS_ACTOR],
    ] as const).map(([s, actor]) => ({ stream: s.name, durable: CONSUMERS.ofActor(actor) }));
    await settle(async (): Promise<Backlog> => {
      const [{ n }] = await sql<{ n: number }[]>`
        select count(*)::int as n from alerts where topic like ${`${run}.%`}`;
      const groups = await (await fetch(`${obs.ready}/api/requestgroups/`)).json() as {
        results: { state: string }[];
      };
      const dead = (await transport.streamState(STREAMS.deadLetters.name)).messages;
      return {
        "kafka → archive": Math.max(0, sent - n - dead),
        ...await consumerBacklog(transport, durables),
        observatory: groups.results.filter((g) => g.state === "PENDING").length,
        "open requests": await openRequests(sql),
      };
    }, { report: (b) => options.quiet || console.error(`settling: ${JSON.stringify(b)}`) });

    const summary = await collectSummary(sql, transport, { mode: "local", alertsIn: sent, t0 });
    const offsets = await kafkaAdmin.fetchTopicOffsets(resultsTopic);
    summary.kafkaResults = {
      topic: resultsTopic,
      records: offsets.reduce((a, p) => a + Number(p.high) - Number(p.low), 0),
    };
    const token = await keycloakToken(env);
    let stopped: Promise<void> | undefined;
    return {
      summary,
      tomUrl: tom.ready,
      token,
      login: `Keycloak ${need(env, "KB_OIDC_ISSUER")}, password grant of client ` +
        `${need(env, "KB_OIDC_TEST_CLIENT_ID")}; users in deploy/local/keycloak`,
      stop: () => (stopped ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
