/**
 * Credentials: Kafka passwords from files, auth.toml refused when others may
 * read it, and no password, token or seed in any log line — at every level,
 * on the error paths of real servers (a SASL failure on Kafka, an
 * authorization failure on NATS) included.
 */
import assert from "node:assert/strict";
import { nkeys } from "@nats-io/nats-core";
import { createLogger, registerSecret } from "../../actors/runtime/log.ts";
import { loadRuntimeConfig } from "../../actors/runtime/config.ts";
import { spawnProcess, uniqueToken } from "../../actors/runtime/testing.ts";
import { startAuthNats } from "../../deploy/nats/testing.ts";
import { loadKafkaConfig } from "./config.ts";

const secret = (what: string) => `${what}-${uniqueToken()}${uniqueToken()}`;

async function tempFile(text: string, mode: number): Promise<string> {
  const path = await Deno.makeTempFile({ prefix: "kb-cred-" });
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, mode);
  return path;
}

Deno.test("auth.toml: refused when group or others may read it, with the chmod to run", async () => {
  const pw = secret("toml");
  const path = await tempFile(
    `[[auth]]\nusername="u1"\npassword="${pw}"\nhostname="h:9093"\nprotocol="SASL_PLAINTEXT"\n`,
    0o644,
  );
  const link = `${path}.link`;
  try {
    const load = (file: string) =>
      loadKafkaConfig({ url: "kafka://h:9093/t", env: { KB_HOP_AUTH: file } });
    assert.throws(() => load(path), (err: Error) => {
      assert.match(err.message, new RegExp(`chmod 600 ${path}`));
      assert.match(err.message, /mode 0644/);
      assert.ok(!err.message.includes(pw), "the refusal must not show the password");
      return true;
    });
    // Through a symlink the target's mode counts, as hop-client checks it.
    await Deno.symlink(path, link);
    assert.throws(() => load(link), /chmod 600/);
    await Deno.chmod(path, 0o640);
    assert.throws(() => load(path), /mode 0640/);
    await Deno.chmod(path, 0o600);
    assert.equal(load(link).sasl?.password, pw);
  } finally {
    await Deno.remove(link).catch(() => {});
    await Deno.remove(path);
  }
});

Deno.test("Kafka password from a file (a mounted secret), never both ways at once", async () => {
  const pw = secret("file");
  const path = await tempFile(pw + "\n", 0o600);
  try {
    const env = {
      KB_KAFKA_USERNAME: "kb",
      KB_KAFKA_PASSWORD_FILE: path,
      KB_KAFKA_SECURITY_PROTOCOL: "SASL_SSL",
    };
    const c = loadKafkaConfig({ url: "kafka://h:9092/t", env });
    assert.equal(c.sasl?.password, pw);
    assert.equal(c.credentialSource, "env");
    assert.throws(
      () => loadKafkaConfig({ url: "kafka://h:9092/t", env: { ...env, KB_KAFKA_PASSWORD: "x" } }),
      /not both/,
    );
    assert.throws(
      () =>
        loadKafkaConfig({
          url: "kafka://h:9092/t",
          env: { ...env, KB_KAFKA_PASSWORD_FILE: `${path}.missing` },
        }),
      /KB_KAFKA_PASSWORD_FILE=.*missing: cannot read/,
    );
  } finally {
    await Deno.remove(path);
  }
});

Deno.test("log redaction: secrets in fields, errors and text never reach a line, at any level", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "debug", sink: (l) => lines.push(l) });
  const registered = secret("registered");
  registerSecret(registered);
  const pw = secret("pw");
  const token = secret("tok");
  const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
  const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
  const scram = secret("scram");
  for (const level of ["debug", "info", "warn", "error"] as const) {
    log[level]("connecting", {
      password: pw,
      sasl: { mechanism: "scram-sha-512", username: "kb", password: scram },
      client_secret: token,
      accessToken: token,
      authorization: `Bearer ${token}`,
      url: `kafka://kb:${pw}@broker:9092/topic`,
      detail: `the broker said: SASL failure for user kb with password=${scram}; seed ${seed}`,
      error: new Error(`request failed (Authorization: Bearer ${jwt}); token: ${token}`),
      nested: { deep: [{ nkey_seed: seed, note: `registered secret ${registered} inside` }] },
    });
    log[level](`message text with ${registered} and password=${pw}`);
    log.child({ apiKey: token })[level]("child logger");
  }
  assert.equal(lines.length, 12);
  const all = lines.join("\n");
  for (const s of [pw, token, jwt, seed, scram, registered]) {
    assert.ok(!all.includes(s), `a secret reached the log: ${s}\n${all}`);
  }
  // What is not secret stays readable.
  const first = JSON.parse(lines[0]);
  assert.equal(first.sasl, "[redacted]");
  assert.equal(first.url, "kafka://kb:[redacted]@broker:9092/topic");
  assert.match(first.detail, /SASL failure for user kb/);
});

Deno.test("runtime configuration errors never echo a credential (URL user info, secret variables)", () => {
  const pw = secret("cfg");
  assert.throws(
    () => loadRuntimeConfig({ KB_NATS_URL: `nats://u:${pw}@host:4222 x`, KB_NATS_PASSWORD: pw }),
    (err: Error) => !err.message.includes(pw) || assert.fail(err.message),
  );
});

Deno.test("log redaction on error paths: a SASL failure on Kafka, an authorization failure on NATS", async (t) => {
  const nats = await startAuthNats();
  const dir = await Deno.makeTempDir({ prefix: "kb-redact-" });
  try {
    await t.step("inbound gateway, wrong SCRAM password on the real Kafka", async () => {
      const brokers = Deno.env.get("KB_KAFKA_SASL_BROKERS");
      assert.ok(brokers, "KB_KAFKA_SASL_BROKERS is not set: run with ./kb task test");
      const wrong = secret("wrong-scram");
      await Deno.writeTextFile(`${dir}/kafka-pw`, wrong, { mode: 0o600 });
      const failed = await spawnProcess({
        name: "hop-inbound",
        args: ["gateway/hopskotch/inbound_main.ts"],
        env: {
          ...nats.env("hopskotch-inbound"),
          KB_LOG_LEVEL: "debug",
          KB_HOP_IN_URL: `kafka://kb@${brokers.split(",")[0]}/kb-redact-${uniqueToken()}`,
          KB_KAFKA_USERNAME: "kb",
          KB_KAFKA_PASSWORD: "",
          KB_KAFKA_PASSWORD_FILE: `${dir}/kafka-pw`,
          KB_KAFKA_SECURITY_PROTOCOL: "SASL_PLAINTEXT",
          KB_KAFKA_SASL_MECHANISM: "SCRAM-SHA-512",
          KB_HOP_AUTH: `${dir}/none.toml`,
        },
        // It retries a refused login (the credential may be rotated meanwhile): the first
        // refusal is the error path under test.
        readyWhen: (e) => (e.msg === "Kafka unavailable; retrying" ? e : undefined),
        timeoutMs: 60_000,
      });
      failed.kill("SIGTERM");
      await failed.status;
      const all = failed.logs.map((l) => JSON.stringify(l)).join("\n");
      assert.match(String(failed.ready.error), /SASL|authenticat/i, all);
      assert.ok(!all.includes(wrong), `the SCRAM password reached the log:\n${all}`);
    });

    await t.step("actor with a wrong NATS password, and with a stranger's nkey seed", async () => {
      const pw = secret("nats-pw");
      await Deno.writeTextFile(`${dir}/nats-pw`, pw, { mode: 0o600 });
      const seed = new TextDecoder().decode(nkeys.createUser().getSeed());
      await Deno.writeTextFile(`${dir}/stranger.nk`, seed, { mode: 0o600 });
      for (
        const [cred, value] of [
          [{ KB_NATS_USER: "echo", KB_NATS_PASSWORD_FILE: `${dir}/nats-pw` }, pw],
          [{ KB_NATS_NKEY_FILE: `${dir}/stranger.nk` }, seed],
        ] as const
      ) {
        let out = "";
        await assert.rejects(
          spawnProcess({
            name: "actor echo",
            args: ["actors/main.ts", "echo"],
            env: {
              KB_NATS_URL: nats.url,
              KB_NATS_IDENTITY: "echo",
              KB_LOG_LEVEL: "debug",
              ...cred,
            },
            readyWhen: (e) => (e.msg === "host ready" ? true : undefined),
          }),
          (err: Error) => {
            out = err.message;
            return true;
          },
        );
        assert.match(out, /Authorization Violation/i);
        assert.ok(!out.includes(value), `a NATS credential reached the log:\n${out}`);
      }
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
    await nats.stop();
  }
});
