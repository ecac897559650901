/**
 * The gateways with a credential shaped like a Hopskotch one: the local Kafka
 * enforces ACLs (deploy/local/kafka.sh: StandardAuthorizer, deny when no ACL
 * matches) and its `limited` user may do only what each test grants, as
 * SCiMMA's admin grants it per topic: Read + Describe on the topics it reads,
 * Read on the consumer groups prefixed `<user>-`, Write + Describe on the
 * topics it writes. The gateways must work with exactly that and nothing more
 * (no cluster rights, no topic creation), and say what is missing when a grant
 * is absent (a topic it may not describe looks absent: it is waited for, and
 * read once granted).
 *
 * Every test runs on each Kafka client behind the gateway's interface.
 */
import assert from "node:assert/strict";
import client from "prom-client";
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  ResourcePatternTypes,
} from "kafkajs";
import { STREAMS } from "../../contracts/names.ts";
import { createLogger } from "../../actors/runtime/log.ts";
import { connectTestNats, waitFor } from "../../actors/runtime/testing.ts";
import type { Transport } from "../../actors/runtime/transport.ts";
import { utf8 } from "./bytes.ts";
import { type KafkaClientConfig, loadKafkaConfig } from "./config.ts";
import { startInbound } from "./inbound.ts";
import { KAFKA_CLIENTS, kafkaClient, type KafkaClientKind } from "./kafka.ts";
import { gatewayMetrics } from "./metrics.ts";
import { createTopics, kafkaTestConfig, kafkaTestEnv, testTopic } from "./testing.ts";
import { decodeHopRecord, type KafkaHeaders } from "./wire.ts";
import { connectHopWriter, type HopRecord } from "./writer.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const quiet = createLogger({ level: (Deno.env.get("KB_TEST_LOG") ?? "error") as "error" });
const dec = new TextDecoder();

function limitedUser(): { username: string; password: string } {
  const username = Deno.env.get("KB_KAFKA_LIMITED_USERNAME");
  const password = Deno.env.get("KB_KAFKA_LIMITED_PASSWORD");
  if (!username || !password) {
    throw new Error(
      "KB_KAFKA_LIMITED_USERNAME / KB_KAFKA_LIMITED_PASSWORD are not set: run the suite with " +
        '`./kb task test`, or `eval "$(bash deploy/local/stack.sh env nats kafka)"`',
    );
  }
  return { username, password };
}

/** A client configuration for the limited user (SCRAM over plaintext) on `client`. */
function limitedConfig(kc: KafkaClientKind, topics: readonly string[]): KafkaClientConfig {
  const { username, password } = limitedUser();
  const brokers = Deno.env.get("KB_KAFKA_SASL_BROKERS");
  return loadKafkaConfig({
    url: `kafka://${username}@${brokers}/${topics.join(",")}`,
    env: { ...kafkaTestEnv(kc), KB_KAFKA_USERNAME: username, KB_KAFKA_PASSWORD: password },
  });
}

type Grant = {
  resource: "topic" | "group";
  name: string;
  prefixed?: boolean;
  operations: ("READ" | "WRITE" | "DESCRIBE")[];
};

/** Grants the limited user `grants` (as the admin, a super user). */
async function grant(grants: Grant[]): Promise<void> {
  const admin = kafkaClient(kafkaTestConfig()).admin();
  await admin.connect();
  try {
    await admin.createAcls({
      acl: grants.flatMap((g) =>
        g.operations.map((op) => ({
          resourceType: g.resource === "topic" ? AclResourceTypes.TOPIC : AclResourceTypes.GROUP,
          resourceName: g.name,
          resourcePatternType: g.prefixed
            ? ResourcePatternTypes.PREFIXED
            : ResourcePatternTypes.LITERAL,
          principal: `User:${limitedUser().username}`,
          host: "*",
          operation: AclOperationTypes[op],
          permissionType: AclPermissionTypes.ALLOW,
        }))
      ),
    });
  } finally {
    await admin.disconnect();
  }
}

/** Fails with what to do when the local Kafka does not enforce ACLs (a broker started before they were configured). */
async function assertAclsEnforced(kc: KafkaClientKind): Promise<void> {
  const topic = testTopic("acl-unreadable");
  await createTopics([topic]);
  const restart = "(started by an older deploy/local/kafka.sh); restart it with " +
    "`bash deploy/local/kafka.sh restart`, which adds the user and turns ACLs on";
  const admin = kafkaClient(limitedConfig(kc, [])).admin();
  await admin.connect().catch((err) => {
    throw new Error(`the limited Kafka user cannot log in to the local Kafka ${restart}`, {
      cause: err,
    });
  });
  try {
    const visible = await admin.listTopics();
    assert.ok(
      !visible.includes(topic),
      `the limited Kafka user sees a topic it has no ACL for: the local Kafka runs without ACLs ${restart}`,
    );
  } finally {
    await admin.disconnect();
  }
}

async function write(topic: string, records: HopRecord[], config = kafkaTestConfig()) {
  const w = await connectHopWriter(config);
  try {
    await w.publish(topic, records);
  } finally {
    await w.close();
  }
}

function records(n: number): HopRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    format: "json",
    id: crypto.randomUUID(),
    sender: "kb-acl-test",
    value: utf8(`{"n":${i}}`),
  }));
}

/** Ids of the envelopes of `topic` on the shared stream. */
async function idsOnNats(t: Transport, topic: string): Promise<string[]> {
  const out: string[] = [];
  for await (const m of t.read(STREAMS.alertsIn.name)) {
    const raw = JSON.parse(dec.decode(m.data));
    if (raw?.kafka?.topic === topic) out.push(raw.hop.id);
  }
  return out;
}

/** The inbound gateway, in this process, reading `topic` as the limited user in group `<user>-<topic>`. */
function limitedInbound(kc: KafkaClientKind, t: Transport, topic: string, topicRecheckMs: number) {
  return startInbound({
    kafka: limitedConfig(kc, [topic]),
    group: `${limitedUser().username}-${topic}`,
    start: { kind: "earliest" },
    transport: t,
    log: quiet,
    metrics: gatewayMetrics(new client.Registry()),
    replica: "acl-test",
    topicRecheckMs,
  });
}

for (const kc of KAFKA_CLIENTS) {
  Deno.test(
    `acl: Read + Describe on the topic and Read on <user>- groups is all the inbound gateway needs [${kc}]`,
    opts,
    async () => {
      await assertAclsEnforced(kc);
      const { username } = limitedUser();
      const topic = testTopic("acl-in");
      await createTopics([topic]);
      await grant([
        { resource: "topic", name: topic, operations: ["READ", "DESCRIBE"] },
        { resource: "group", name: `${username}-`, prefixed: true, operations: ["READ"] },
      ]);
      const sent = records(5);
      await write(topic, sent);
      const t = await connectTestNats("hop-acl-test");
      const gw = await limitedInbound(kc, t, topic, 500);
      try {
        const got = await waitFor("5 envelopes on NATS", async () => {
          const ids = await idsOnNats(t, topic);
          return ids.length >= 5 ? ids : undefined;
        }, 30_000);
        assert.deepEqual(got.sort(), sent.map((r) => r.id!).sort());
        // Offsets are committed under the limited credential (Read on the group suffices).
        const admin = kafkaClient(kafkaTestConfig()).admin();
        await admin.connect();
        try {
          await waitFor("offsets committed", async () => {
            const o = await admin.fetchOffsets({ groupId: gw.groupId, topics: [topic] });
            return o[0].partitions[0].offset === "5";
          }, 20_000);
        } finally {
          await admin.disconnect();
        }
        assert.deepEqual(gw.stats().waitingFor, []);
      } finally {
        await gw.stop();
        await t.close();
      }
    },
  );

  Deno.test(
    `acl: a topic the credential may not see is waited for, and read once it is granted [${kc}]`,
    opts,
    async () => {
      await assertAclsEnforced(kc);
      const { username } = limitedUser();
      const topic = testTopic("acl-later");
      await createTopics([topic]);
      await grant([
        { resource: "group", name: `${username}-`, prefixed: true, operations: ["READ"] },
      ]);
      const sent = records(2);
      await write(topic, sent);
      const t = await connectTestNats("hop-acl-test");
      const gw = await limitedInbound(kc, t, topic, 300);
      try {
        await waitFor(
          "the topic reported as waited for",
          () => gw.stats().waitingFor.includes(topic),
          20_000,
        );
        assert.deepEqual(await idsOnNats(t, topic), []);
        await grant([{ resource: "topic", name: topic, operations: ["READ", "DESCRIBE"] }]);
        const got = await waitFor("2 envelopes on NATS once granted", async () => {
          const ids = await idsOnNats(t, topic);
          return ids.length >= 2 ? ids : undefined;
        }, 30_000);
        assert.deepEqual(got.sort(), sent.map((r) => r.id!).sort());
        assert.deepEqual(gw.stats().waitingFor, []);
      } finally {
        await gw.stop();
        await t.close();
      }
    },
  );

  Deno.test(
    `acl: Write + Describe on the topic is all the outbound writer needs [${kc}]`,
    opts,
    async () => {
      await assertAclsEnforced(kc);
      const topic = testTopic("acl-out");
      await createTopics([topic]);
      await grant([{ resource: "topic", name: topic, operations: ["WRITE", "DESCRIBE"] }]);
      const sent = records(3);
      await write(topic, sent, limitedConfig(kc, []));
      // Read back as a super user: the records arrived in hop's wire format.
      const consumer = kafkaClient(kafkaTestConfig()).consumer({
        groupId: `kb-acl-check-${crypto.randomUUID().slice(0, 8)}`,
      });
      const seen: string[] = [];
      await consumer.connect();
      try {
        await consumer.subscribe({ topic, fromBeginning: true });
        await consumer.run({
          eachMessage: ({ message }) => {
            const r = decodeHopRecord(
              new Uint8Array(message.value ?? new Uint8Array()),
              message.headers as KafkaHeaders,
            );
            seen.push(r.headers.id!);
            return Promise.resolve();
          },
        });
        await waitFor("3 records", () => seen.length >= 3, 30_000);
      } finally {
        await consumer.disconnect();
      }
      assert.deepEqual(seen.sort(), sent.map((r) => r.id!).sort());
    },
  );

  Deno.test(
    `acl: without Write on the topic the writer fails and says the credential is refused [${kc}]`,
    opts,
    async () => {
      await assertAclsEnforced(kc);
      const topic = testTopic("acl-denied");
      await createTopics([topic]);
      await grant([{ resource: "topic", name: topic, operations: ["DESCRIBE"] }]);
      await assert.rejects(
        write(topic, records(1), limitedConfig(kc, [])),
        (err: Error) => {
          assert.match(String(err), /authori[sz]/i, String(err));
          return true;
        },
      );
    },
  );
}
