/**
 * Least privilege on the bus, on a real nats-server running the generated
 * authorization (a private one: these tests need the pipeline's fixed stream
 * and consumer names to themselves), and the generated files kept up to date.
 */
import assert from "node:assert/strict";
import { nkeys } from "@nats-io/nats-core";
import { ACTORS } from "../../actors/registry.ts";
import { classifierActor } from "../../actors/classifier/actor.ts";
import { runtimeConfig } from "../../actors/runtime/config.ts";
import { startHost } from "../../actors/runtime/host.ts";
import { createLogger } from "../../actors/runtime/log.ts";
import type { NatsTransport } from "../../actors/runtime/nats_transport.ts";
import { consumerSpecOf } from "../../actors/runtime/runner.ts";
import { spawnActor, uniqueToken, waitFor } from "../../actors/runtime/testing.ts";
import { RESULT_SUBJECTS, STREAMS, subjectMatches, SUBJECTS } from "../../contracts/names.ts";
import { derivedAlert } from "../../gateway/tom/testing.ts";
import { tomBrokerActor } from "../../gateway/tom/broker/actor.ts";
import type { Sql } from "../../db/mod.ts";
import { identityForProcess, inboxPrefix, seedFileName } from "./identities.ts";
import { natsIdentities } from "./permissions.ts";
import { CHART_PERMISSIONS_FILE, renderPermissionsJson, renderServerAuth } from "./render.ts";
import { ensureSeeds } from "./keys.ts";
import { find, render } from "../helm/helm.ts";
import { startAuthNats } from "./testing.ts";

const enc = new TextEncoder();
const ROOT = new URL("../../", import.meta.url).pathname;

const canPublish = (identity: string, subject: string) => {
  const i = natsIdentities().find((x) => x.name === identity)!;
  return !i.permissions || i.permissions.publish.some((p) => subjectMatches(p, subject));
};

Deno.test("nats permissions: the chart's generated permissions match the code (deno task nats-auth chart)", async () => {
  const committed = await Deno.readTextFile(ROOT + CHART_PERMISSIONS_FILE);
  assert.equal(
    committed,
    renderPermissionsJson(natsIdentities()),
    `${CHART_PERMISSIONS_FILE} is stale: run \`deno task nats-auth chart\``,
  );
});

/** The configuration without comments and layout, for comparing two renderings. */
const normalize = (conf: string) =>
  conf.split("\n").filter((l) => !l.trim().startsWith("#")).join(" ").replace(/\s+/g, "");

Deno.test("nats permissions: the chart renders the same authorization as the local stack, and mounts one seed per actor", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kb-chart-keys-" });
  try {
    const identities = natsIdentities();
    const keys = await ensureSeeds(dir, identities.map((i) => i.name));
    const set = [
      "nats.auth.enabled=true",
      "nats.auth.existingSecret=kb-nats-identities",
      "nats.caSecret=nats-ca",
      "nats.url=tls://nats.nats.svc:4222",
      "actors.tom.enabled=true",
      "postgres.url=postgres://x@db/kb",
      "keycloak.issuerUrl=https://id.example.org/realms/kb",
      "keycloak.clientSecret=s",
      ...Object.entries(keys).map(([n, k]) => `nats.auth.publicKeys.${n}=${k}`),
    ];
    const manifests = await render({ set });
    const cm = find(manifests, "ConfigMap", "kb-kilonova-broker-nats-auth");
    const conf = (cm as unknown as { data: Record<string, string> }).data["auth.conf"];
    assert.equal(normalize(conf), normalize(renderServerAuth(identities, keys)));
    // nats-server accepts it.
    await Deno.writeTextFile(`${dir}/auth.conf`, conf);
    await Deno.writeTextFile(`${dir}/server.conf`, `include "auth.conf"\n`);
    const check = await new Deno.Command(`${ROOT}.tools/bin/nats-server`, {
      args: ["-c", `${dir}/server.conf`, "-t"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(check.success, new TextDecoder().decode(check.stderr));

    for (const actor of ["classifier", "tom"]) {
      const d = find(manifests, "Deployment", `kb-kilonova-broker-${actor}`) as unknown as {
        spec: {
          template: {
            spec: {
              containers: { env: { name: string; value?: string }[] }[];
              volumes: { name: string; secret?: { items?: { key: string }[] } }[];
            };
          };
        };
      };
      const pod = d.spec.template.spec;
      const env = Object.fromEntries(pod.containers[0].env.map((e) => [e.name, e.value]));
      assert.equal(env.KB_NATS_IDENTITY, actor);
      assert.equal(env.KB_NATS_NKEY_FILE, `/etc/kb/nats-identity/${actor}.nk`);
      assert.equal(env.KB_NATS_CA_FILE, "/etc/kb/nats-ca/ca.crt");
      const seeds = pod.volumes.find((v) => v.name === "nats-identity")?.secret?.items;
      assert.deepEqual(seeds?.map((i) => i.key), [`${actor}.nk`], "only its own seed");
    }
    const missing = set.filter((s) => !s.startsWith("nats.auth.publicKeys.archiver="));
    await assert.rejects(render({ set: missing }), /no key for the identity archiver/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("nats permissions: every actor has its own identity, publishing only its outputs and dead letters", () => {
  const ids = natsIdentities();
  for (const [name, def] of Object.entries(ACTORS)) {
    const id = ids.find((i) => i.name === name);
    assert.ok(id?.permissions, `actor ${name} has no restricted identity`);
    const app = id.permissions.publish.filter((s) => !s.startsWith("$JS."));
    assert.deepEqual(
      app.sort(),
      [...def.outputs.map((c) => c.subject), SUBJECTS.deadLetter(name)].sort(),
    );
    assert.ok(!id.permissions.subscribe.includes(">"));
    assert.ok(id.permissions.subscribe.includes(`${inboxPrefix(name)}.>`));
    assert.ok(!id.permissions.subscribe.some((s) => s.startsWith("_INBOX.")));
  }
  // Only the results publisher may emit derived alerts; the archiver nothing but dead letters.
  const derivedBy = ids.filter((i) =>
    i.permissions && canPublish(i.name, RESULT_SUBJECTS.derivedAlerts)
  );
  assert.deepEqual(derivedBy.map((i) => i.name), ["results-publisher"]);
  assert.equal(canPublish("archiver", "alerts.in.gw"), false);
  assert.equal(canPublish("tom", RESULT_SUBJECTS.derivedAlerts), false);
  assert.equal(canPublish("hopskotch-inbound", "alerts.in.gw"), true);
});

Deno.test("nats permissions: a process started by the test helpers gets its script's identity", async () => {
  assert.equal(identityForProcess(["actors/main.ts", "archiver"]), "archiver");
  assert.equal(identityForProcess(["gateway/tom/main.ts"]), "tom");
  assert.equal(identityForProcess(["gateway/hopskotch/inbound_main.ts"]), "hopskotch-inbound");
  assert.equal(identityForProcess(["bench/main.ts"]), undefined);
  // Every entry point the image ships has an identity with permissions.
  const containerfile = await Deno.readTextFile(`${ROOT}deploy/container/Containerfile`);
  const scripts = /ARG KB_ENTRYPOINTS="([^"]+)"/.exec(containerfile)![1].split(/\s+/);
  const names = natsIdentities().map((i) => i.name);
  for (const script of scripts.filter((s) => s !== "actors/main.ts")) {
    const id = identityForProcess([script]);
    assert.ok(
      id && names.includes(id),
      `${script} has no NATS identity (deploy/nats/identities.ts)`,
    );
  }
});

Deno.test("nats permissions: on the real server", async (t) => {
  const nats = await startAuthNats();
  const open: NatsTransport[] = [];
  const as = async (identity: string) => {
    const tr = await nats.connectAs(identity);
    open.push(tr);
    return tr;
  };
  try {
    await t.step("an unauthenticated client and an unknown nkey are refused", async () => {
      // Spoken at the protocol level: a client library's socket can raise its reset after the
      // refusal as an uncaught error; the server's answer is what this test is about.
      assert.match(await rawConnect(nats.url, () => ({})), /^-ERR 'Authorization Violation'/);
      const signed = (kp: ReturnType<typeof nkeys.createUser>) => (nonce: string) => ({
        nkey: kp.getPublicKey(),
        sig: btoa(String.fromCharCode(...kp.sign(new TextEncoder().encode(nonce))))
          .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, ""),
      });
      const stranger = nkeys.createUser();
      assert.match(await rawConnect(nats.url, signed(stranger)), /^-ERR 'Authorization Violation'/);
      // The same signing with a configured identity's key gets in: the refusal is the key's.
      const admin = nkeys.fromSeed(
        new TextEncoder().encode(
          (await Deno.readTextFile(`${nats.dir}/${seedFileName("admin")}`)).trim(),
        ),
      );
      assert.equal(await rawConnect(nats.url, signed(admin)), "PONG");
    });

    await t.step(
      "an actor's identity cannot publish outside its subjects: refused and counted",
      async () => {
        const lines: string[] = [];
        const config = runtimeConfig({
          ...nats.env("archiver"),
          KB_HTTP_PORT: 0,
          KB_HTTP_HOST: "127.0.0.1",
        });
        const host = await startHost([], config, {
          log: createLogger({ level: "info", sink: (l) => lines.push(l) }),
        });
        try {
          const tr = host.transport as NatsTransport;
          // Allowed: its dead letters (JetStream answers, so no violation).
          await tr.ensureStream(STREAMS.deadLetters);
          await tr.publish(SUBJECTS.deadLetter("archiver"), enc.encode("{}"));
          assert.equal(tr.permissionViolations, 0);
          tr.nc.publish(RESULT_SUBJECTS.derivedAlerts, enc.encode("{}"));
          tr.nc.publish(SUBJECTS.deadLetter("classifier"), enc.encode("{}"));
          await waitFor("two violations", () => tr.permissionViolations === 2);
          const metrics = await waitFor("the counter", async () => {
            const text = await (await fetch(`http://127.0.0.1:${host.port}/metrics`)).text();
            return /kb_nats_permission_violations_total\{operation="publish"[^}]*\} 2/.test(text) &&
              text;
          });
          assert.ok(metrics);
          const logged = lines.map((l) => JSON.parse(l)).filter((e) =>
            e.msg.startsWith("NATS permission violation")
          );
          assert.deepEqual(logged.map((e) => e.subject).sort(), [
            RESULT_SUBJECTS.derivedAlerts,
            SUBJECTS.deadLetter("classifier"),
          ]);
        } finally {
          await host.stop();
        }
      },
    );

    await t.step("an identity cannot read another actor's durable consumer", async () => {
      const classifier = await as("classifier");
      const spec = consumerSpecOf(classifierActor, runtimeConfig());
      // The classifier's own runtime calls succeed under its permissions.
      await classifier.ensureStream(STREAMS.alertsIn);
      await classifier.ensureConsumer(spec);
      const admin = await as("admin");
      const id = uniqueToken();
      await admin.publish(SUBJECTS.alertsIn("gw"), enc.encode(`{"secret":"${id}"}`));

      const archiver = await as("archiver");
      await assert.rejects(archiver.consumerState(spec.stream, spec.durable));
      await assert.rejects(
        archiver.nc.request(
          `$JS.API.CONSUMER.MSG.NEXT.${spec.stream}.${spec.durable}`,
          enc.encode(JSON.stringify({ batch: 1, expires: 1e9 })),
          { timeout: 2000 },
        ),
      );
      // Nor eavesdrop on the classifier's inbox, where its pulled messages arrive.
      const spy: string[] = [];
      const refused: Error[] = [];
      archiver.nc.subscribe(`${inboxPrefix("classifier")}.>`, {
        callback: (e, m) => {
          if (e) refused.push(e);
          else spy.push(new TextDecoder().decode(m.data));
        },
      });
      await waitFor("violations", () => archiver.permissionViolations >= 3 && refused.length);
      assert.match(refused[0].message, /permissions violation/i);

      // The classifier still gets the message; the archiver saw nothing of it.
      const sub = await classifier.consume(spec.stream, spec.durable, { maxMessages: 10 });
      let got = "";
      for await (const d of sub) {
        got = new TextDecoder().decode(d.data);
        await d.ack();
        if (got.includes(id)) break;
      }
      await sub.stop();
      assert.match(got, new RegExp(id));
      assert.equal(spy.length, 0);
      assert.equal((await classifier.consumerState(spec.stream, spec.durable)).ackPending, 0);
    });

    await t.step(
      "a forged derived alert from the archiver's identity never reaches the TOM's consumer",
      async () => {
        const tom = await as("tom");
        const spec = consumerSpecOf(tomBrokerActor(undefined as unknown as Sql), runtimeConfig());
        await tom.ensureStream(STREAMS.alertsOut);
        await tom.ensureConsumer(spec);
        const alert = (name: string) =>
          enc.encode(JSON.stringify(derivedAlert({
            name,
            ra: 197.45,
            dec: -23.38,
            resultId: uniqueToken(),
            revision: 1,
            kilonova: 0.99,
            computedAt: new Date().toISOString(),
          })));
        const archiver = await as("archiver");
        archiver.nc.publish(RESULT_SUBJECTS.derivedAlerts, alert("forged-by-archiver"), {
          headers: undefined,
        });
        // Straight into the TOM's inbox, bypassing the stream: refused too.
        archiver.nc.publish(`${inboxPrefix("tom")}.x.y`, alert("forged-into-inbox"));
        await waitFor("the forgeries refused", () => archiver.permissionViolations === 2);

        const publisher = await as("results-publisher");
        await publisher.ensureStream(STREAMS.alertsOut);
        await publisher.publish(RESULT_SUBJECTS.derivedAlerts, alert("genuine"));

        const sub = await tom.consume(spec.stream, spec.durable, { maxMessages: 10 });
        const seen: string[] = [];
        for await (const d of sub) {
          seen.push(JSON.parse(new TextDecoder().decode(d.data)).content.data.targets[0].name);
          await d.ack();
          if (seen.includes("genuine")) break;
        }
        await sub.stop();
        assert.deepEqual(seen, ["genuine"]);
        assert.equal((await tom.streamState(STREAMS.alertsOut.name)).messages, 1);
      },
    );

    await t.step(
      "an actor process connects as its own identity (KB_NATS_IDENTITY, KB_NATS_NKEY_FILE)",
      async () => {
        const actor = await spawnActor("echo", nats.env("echo"));
        try {
          const connz = await (await fetch(`${nats.monitorUrl}/connz?auth=true`)).json() as {
            connections: { name?: string; authorized_user?: string }[];
          };
          const echoKey = nkeys.fromSeed(
            enc.encode((await Deno.readTextFile(`${nats.dir}/echo.nk`)).trim()),
          ).getPublicKey();
          const mine = connz.connections.find((c) => c.name?.includes("@echo"));
          assert.equal(mine?.authorized_user, echoKey, JSON.stringify(connz.connections));
        } finally {
          actor.kill("SIGTERM");
          await actor.status;
        }
      },
    );
  } finally {
    for (const tr of open) await tr.close().catch(() => {});
    await nats.stop();
  }
});

/**
 * Opens a raw NATS connection, sends CONNECT with the fields `auth(nonce)` gives and a PING,
 * and returns the server's first answer line after INFO ("PONG" or "-ERR ...").
 */
async function rawConnect(
  url: string,
  auth: (nonce: string) => Record<string, unknown>,
): Promise<string> {
  const u = new URL(url);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  try {
    const buf = new Uint8Array(65536);
    let text = "";
    const nextLine = async (): Promise<string> => {
      while (!text.includes("\r\n")) {
        const n = await conn.read(buf);
        if (n === null) throw new Error(`the server closed the connection; got: ${text}`);
        text += new TextDecoder().decode(buf.subarray(0, n));
      }
      const i = text.indexOf("\r\n");
      const line = text.slice(0, i);
      text = text.slice(i + 2);
      return line;
    };
    const info = JSON.parse((await nextLine()).replace(/^INFO /, "")) as { nonce?: string };
    const fields = { verbose: false, pedantic: false, protocol: 1, ...auth(info.nonce ?? "") };
    await conn.write(new TextEncoder().encode(`CONNECT ${JSON.stringify(fields)}\r\nPING\r\n`));
    return await nextLine();
  } finally {
    conn.close();
  }
}
