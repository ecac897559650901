/**
 * The echo actor as real processes on the real nats-server, as Kubernetes
 * replicas would run it: two replicas share one durable consumer, show up in
 * `nats micro ls`, survive a SIGKILL of one of them with nothing lost, and
 * drain cleanly on SIGTERM.
 */
import assert from "node:assert/strict";
import { CHANNELS, type Pong } from "../../contracts/messages.ts";
import { CONSUMERS, STREAMS, SUBJECTS } from "../../contracts/names.ts";
import {
  connectTestNats,
  natsCli,
  natsUrl,
  spawnActor,
  type SpawnedActor,
  waitFor,
} from "../runtime/testing.ts";
import type { Transport } from "../runtime/transport.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

async function freshStreams(t: Transport): Promise<void> {
  for (const s of [STREAMS.demo, STREAMS.deadLetters]) {
    await t.deleteStream(s.name);
    await t.ensureStream(s);
  }
}

async function publishPings(t: Transport, n: number, extra: Record<string, unknown> = {}) {
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    pending.push(
      t.publish(
        SUBJECTS.demoPing,
        enc.encode(JSON.stringify({ seq: i, sentAt: Date.now(), ...extra })),
        {
          msgId: `ping-${i}`,
        },
      ),
    );
    if (pending.length >= 200) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
}

async function pongs(t: Transport): Promise<Pong[]> {
  const out: Pong[] = [];
  for await (const m of t.read(STREAMS.demo.name, { subject: SUBJECTS.demoPong })) {
    out.push(CHANNELS.demoPong.schema.parse(JSON.parse(dec.decode(m.data))));
  }
  return out;
}

async function pongCount(t: Transport): Promise<number> {
  const s = await t.streamState(STREAMS.demo.name);
  // pings + pongs share the stream; pings are known
  return s.messages;
}

function env(replica: string, extra: Record<string, string> = {}): Record<string, string> {
  return { KB_NATS_URL: natsUrl(), KB_REPLICA_ID: replica, KB_LOG_LEVEL: "info", ...extra };
}

async function stopAll(actors: SpawnedActor[]) {
  for (const a of actors) {
    try {
      a.kill("SIGKILL");
    } catch { /* already gone */ }
    await a.status;
  }
}

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "echo replicas: two processes share one durable consumer and appear in `nats micro ls`",
  ...opts,
  async fn() {
    const t = await connectTestNats();
    const actors: SpawnedActor[] = [];
    try {
      await freshStreams(t);
      actors.push(await spawnActor("echo", env("echo-a")));
      actors.push(await spawnActor("echo", env("echo-b")));

      const services = await natsCli(["micro", "ls"]) as {
        name: string;
        id: string;
        metadata?: Record<string, string>;
      }[];
      const echo = services.filter((s) => s.name === "echo");
      assert.equal(
        echo.length,
        2,
        `two echo instances in nats micro ls: ${JSON.stringify(services)}`,
      );
      assert.deepEqual(echo.map((s) => s.metadata?.replica).sort(), ["echo-a", "echo-b"]);

      const streams = await natsCli(["stream", "ls"]) as string[];
      assert.ok(
        streams.includes(STREAMS.demo.name),
        `KB_DEMO listed by nats stream ls: ${streams}`,
      );
      const consumer = await natsCli([
        "consumer",
        "info",
        STREAMS.demo.name,
        CONSUMERS.ofActor("echo"),
      ]) as {
        config: { durable_name: string; filter_subjects: string[]; ack_policy: string };
      };
      assert.equal(consumer.config.durable_name, "echo");
      assert.deepEqual(consumer.config.filter_subjects, [SUBJECTS.demoPing]);
      assert.equal(consumer.config.ack_policy, "explicit");

      await publishPings(t, 1000, { workMs: 1 });
      await waitFor("1000 pongs", async () => (await pongCount(t)) >= 2000, 60_000, 200);
      const got = await pongs(t);
      assert.equal(got.length, 1000);
      assert.equal(new Set(got.map((p) => p.seq)).size, 1000);
      const perReplica = Object.groupBy(got, (p) => p.replica);
      assert.ok((perReplica["echo-a"]?.length ?? 0) > 50, "replica a worked");
      assert.ok((perReplica["echo-b"]?.length ?? 0) > 50, "replica b worked");

      // Each replica counts what it handled; no message was handled twice.
      const stats = await natsCli(["micro", "stats", "echo"]) as {
        id: string;
        endpoints: { data: { handled: number } }[];
      }[];
      const handled = stats.map((s) => s.endpoints[0].data.handled).reduce((a, b) => a + b, 0);
      assert.equal(
        handled,
        1000,
        `handled per replica: ${JSON.stringify(stats.map((s) => s.endpoints[0].data))}`,
      );

      // Health, readiness and metrics over HTTP.
      const health = await fetch(`http://127.0.0.1:${actors[0].port}/healthz`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
      const ready = await fetch(`http://127.0.0.1:${actors[0].port}/readyz`);
      assert.equal(ready.status, 200);
      await ready.body?.cancel();
      const metrics = await (await fetch(`http://127.0.0.1:${actors[0].port}/metrics`)).text();
      assert.match(metrics, /kb_messages_handled_total\{actor="echo",replica="echo-a"\} \d+/);
      assert.match(metrics, /kb_handler_duration_seconds_bucket/);
      assert.match(metrics, /kb_consumer_pending\{actor="echo",replica="echo-a"\} 0/);
    } finally {
      await stopAll(actors);
      await t.close();
    }
  },
});

Deno.test({
  name: "echo replicas: SIGKILL of a replica mid-batch loses nothing, redelivers its work",
  ...opts,
  async fn() {
    const t = await connectTestNats();
    const actors: SpawnedActor[] = [];
    try {
      await freshStreams(t);
      const tuning = { KB_ACK_WAIT_MS: "2000", KB_MAX_IN_FLIGHT: "32", KB_PREFETCH: "128" };
      actors.push(await spawnActor("echo", env("victim", tuning)));
      actors.push(await spawnActor("echo", env("survivor", tuning)));
      const n = 3000;
      await publishPings(t, n, { workMs: 3 });
      await waitFor(
        "some pongs before the kill",
        async () => (await pongCount(t)) >= n + 300,
        60_000,
        20,
      );
      actors[0].kill("SIGKILL");
      const killed = await actors[0].status;
      assert.equal(killed.signal, "SIGKILL");
      await waitFor(`all ${n} pongs`, async () => (await pongCount(t)) >= 2 * n, 90_000, 200);
      const got = await pongs(t);
      assert.equal(got.length, n, "exactly one pong per ping (duplicates dropped by message id)");
      assert.equal(new Set(got.map((p) => p.seq)).size, n, "every ping handled");
      assert.ok(
        got.some((p) => p.replica === "victim"),
        "the victim had handled some before dying",
      );
      assert.ok(
        got.some((p) => p.replica === "survivor" && p.attempt >= 2),
        "the survivor handled redelivered messages the victim held",
      );
      await waitFor("the consumer has nothing left pending", async () => {
        const s = await t.consumerState(STREAMS.demo.name, CONSUMERS.ofActor("echo"));
        return s.pending === 0 && s.ackPending === 0;
      }, 10_000);
    } finally {
      await stopAll(actors);
      await t.close();
    }
  },
});

Deno.test({
  name:
    "echo replicas: SIGTERM drains in-flight work and exits 0; the rest is handled at once by a new replica",
  ...opts,
  async fn() {
    const t = await connectTestNats();
    const actors: SpawnedActor[] = [];
    try {
      await freshStreams(t);
      const tuning = {
        KB_ACK_WAIT_MS: "60000",
        KB_MAX_IN_FLIGHT: "8",
        KB_PREFETCH: "16",
        KB_GRACE_MS: "10000",
      };
      const first = await spawnActor("echo", env("draining", tuning));
      actors.push(first);
      const n = 500;
      await publishPings(t, n, { workMs: 20 });
      await waitFor("some pongs", async () => (await pongCount(t)) >= n + 40, 30_000, 20);
      const t0 = Date.now();
      first.kill("SIGTERM");
      const status = await first.status;
      assert.equal(status.code, 0, "clean exit");
      assert.ok(Date.now() - t0 < 10_000, "within the grace period");
      assert.ok(first.logs.some((l) => l.msg === "stopped cleanly"), "logged a clean stop");

      // The ack wait is 60 s: finishing well before proves nothing was left unacked.
      actors.push(await spawnActor("echo", env("successor", tuning)));
      await waitFor(`all ${n} pongs`, async () => (await pongCount(t)) >= 2 * n, 30_000, 200);
      const got = await pongs(t);
      assert.equal(got.length, n);
      assert.equal(new Set(got.map((p) => p.seq)).size, n);
      const drained = got.filter((p) => p.replica === "draining").length;
      const handledByFirst = first.logs.find((l) => l.msg === "stopped cleanly")?.handled;
      assert.equal(handledByFirst, drained, "every ping the first replica handled has its pong");
    } finally {
      await stopAll(actors);
      await t.close();
    }
  },
});

Deno.test({
  name: "actor process: a bad environment variable stops it at start with a message naming it",
  ...opts,
  async fn() {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "actors/main.ts", "echo"],
      cwd: new URL("../../", import.meta.url),
      env: { KB_HTTP_PORT: "eighty", KB_MAX_ATTEMPTS: "0" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 2);
    const err = dec.decode(out.stderr);
    assert.match(err, /KB_HTTP_PORT="eighty"/);
    assert.match(err, /KB_MAX_ATTEMPTS="0"/);
    assert.match(err, /port of the \/healthz/);
    const unknown = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "actors/main.ts", "nope"],
      cwd: new URL("../../", import.meta.url),
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(unknown.code, 2);
    assert.match(dec.decode(unknown.stderr), /unknown actor "nope"\. Actors: (.+, )?echo\b/);
    for (
      const [arg, says] of [["echo,nope", /unknown actor "nope"\./], ["echo,echo", /named twice/]]
    ) {
      const bad = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "actors/main.ts", arg as string],
        cwd: new URL("../../", import.meta.url),
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(bad.code, 2, arg as string);
      assert.match(dec.decode(bad.stderr), says as RegExp);
    }
  },
});
