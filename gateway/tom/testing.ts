/**
 * Test helpers of the TOM: a private database on the real PostgreSQL, tokens
 * from the real Keycloak (password grant and client credentials), and a TOM
 * started in-process. Each fails — never skips — when the test command did not
 * start the server it needs.
 *
 * @module
 */
import { connect } from "../../db/mod.ts";
import { dropDatabase } from "../../db/testing.ts";
import type { DerivedAlertOutbound } from "../../contracts/messages.ts";
import { runtimeConfig } from "../../actors/runtime/config.ts";
import { createLogger } from "../../actors/runtime/log.ts";
import type { Transport } from "../../actors/runtime/transport.ts";
import { type SpawnedProcess, spawnProcess, uniqueToken } from "../../actors/runtime/testing.ts";
import { loadTomConfig } from "./config.ts";
import { startTom, type Tom } from "./server.ts";

function need(name: string): string {
  const v = Deno.env.get(name);
  if (!v) {
    throw new Error(
      `${name} is not set: run the suite with \`./kb task test\`, which starts the local servers ` +
        `(postgres, keycloak, ...), or \`eval "$(bash deploy/local/stack.sh env)"\` after ` +
        "`bash deploy/local/stack.sh up`",
    );
  }
  return v;
}

/** A database of its own on the real PostgreSQL server. */
export interface TestDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/** Creates `tom_test_<random>` on the server of `KB_DATABASE_URL`. */
export async function createTestDatabase(prefix = "tom_test"): Promise<TestDatabase> {
  const base = need("KB_DATABASE_URL");
  const name = `${prefix}_${uniqueToken()}`;
  const admin = connect(base, { max: 1 });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const u = new URL(base);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: () => dropDatabase(base, name),
  };
}

/** The local Keycloak's issuer, clients and users (from `deploy/local/keycloak.sh env`). */
export function keycloak() {
  const users = Object.fromEntries(
    need("KB_OIDC_TEST_USERS").split(",").map((p) => p.split(":") as [string, string]),
  );
  return {
    issuer: need("KB_OIDC_ISSUER"),
    otherIssuer: need("KB_OIDC_OTHER_ISSUER"),
    audience: need("KB_OIDC_AUDIENCE"),
    testClient: { id: need("KB_OIDC_TEST_CLIENT_ID"), secret: need("KB_OIDC_TEST_CLIENT_SECRET") },
    apiClient: { id: need("KB_OIDC_API_CLIENT_ID"), secret: need("KB_OIDC_API_CLIENT_SECRET") },
    noAudClient: {
      id: need("KB_OIDC_NOAUD_CLIENT_ID"),
      secret: need("KB_OIDC_NOAUD_CLIENT_SECRET"),
    },
    users,
  };
}

/** Asks an OIDC token endpoint for an access token. */
export async function fetchToken(issuer: string, form: Record<string, string>): Promise<string> {
  const res = await fetch(`${issuer}/protocol/openid-connect/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form),
  });
  const text = await res.text();
  let body: { access_token?: unknown } = {};
  try {
    body = JSON.parse(text);
  } catch { /* reported below with the text */ }
  if (!res.ok || typeof body.access_token !== "string") {
    throw new Error(`token request to ${issuer} failed (${res.status}): ${text.slice(0, 500)}`);
  }
  return body.access_token;
}

/** A user's access token by the password grant of the test client. */
export function passwordToken(
  issuer: string,
  client: { id: string; secret: string },
  username: string,
  password: string,
): Promise<string> {
  return fetchToken(issuer, {
    grant_type: "password",
    client_id: client.id,
    client_secret: client.secret,
    username,
    password,
    scope: "openid",
  });
}

/** A client's access token by the client-credentials grant. */
export function clientToken(issuer: string, client: { id: string; secret: string }) {
  return fetchToken(issuer, {
    grant_type: "client_credentials",
    client_id: client.id,
    client_secret: client.secret,
  });
}

/** Starts a TOM for a test on its own port (0), quiet logs. */
export async function startTestTom(
  env: Record<string, string>,
  options: {
    transport?: Transport;
    verifierOverrides?: { jwksCooldownMs?: number; now?: () => Date };
  } = {},
): Promise<Tom> {
  const config = loadTomConfig({ KB_TOM_PORT: "0", KB_TOM_BROKER: "false", ...env });
  const runtime = runtimeConfig({
    KB_TRANSPORT: options.transport ? "memory" : "nats",
    KB_HTTP_PORT: 0,
    KB_HTTP_HOST: "127.0.0.1",
    KB_LOG_LEVEL: "error",
  });
  return await startTom(config, runtime, {
    ...options,
    log: createLogger({ level: "error", fields: { app: "tom-test" } }),
  });
}

/** A TOM started as its own process (`deno run gateway/tom/main.ts`). */
export interface SpawnedTom extends SpawnedProcess<string> {
  /** Base URL of its HTTP server. */
  readonly url: string;
}

/**
 * Starts a TOM process and waits for its "tom ready" log line (with
 * `KB_TOM_WORKERS` above 1: "tom serving threads ready", after every thread;
 * such a TOM runs with `--unstable-net`, as deployed).
 */
export async function spawnTom(
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<SpawnedTom> {
  const threaded = Number(env.KB_TOM_WORKERS ?? 1) > 1;
  let url: string | undefined;
  const p = await spawnProcess({
    name: "tom",
    args: ["gateway/tom/main.ts"],
    denoFlags: threaded ? ["--unstable-net"] : [],
    env: { KB_TOM_PORT: "0", ...env },
    readyWhen: (e) => {
      if (e.msg === "tom ready" && e.thread === undefined) url = String(e.url);
      if (!threaded) return e.msg === "tom ready" ? String(e.url) : undefined;
      return e.msg === "tom serving threads ready" ? url : undefined;
    },
    timeoutMs,
  });
  return { ...p, url: p.ready };
}

/** A derived alert (kb.derived-alert.v1) for one candidate, for tests and demos. */
export function derivedAlert(a: {
  name: string;
  ra: number;
  dec: number;
  resultId: string;
  revision: number;
  kilonova: number;
  computedAt: string;
  eventId?: string;
}): DerivedAlertOutbound {
  const scores = { kilonova: a.kilonova, "SN Ia": Math.round((1 - a.kilonova) * 1e6) / 1e6 };
  const top = a.kilonova >= 0.5 ? "kilonova" : "SN Ia";
  return {
    format: "json",
    id: crypto.randomUUID(),
    test: true,
    key: a.name,
    content: {
      schema: "kb.derived-alert.v1",
      title: `kilonova-broker: ${a.name} P(kilonova)=${a.kilonova.toFixed(3)}`,
      topic: "kb.results",
      submitter: "kilonova-broker",
      authors: "kilonova-broker tests",
      message_text: "test alert",
      data: {
        event_id: a.eventId ?? "",
        targets: [{ name: a.name, ra: a.ra, dec: a.dec }],
        photometry: [],
        references: [],
        classification: {
          class: top,
          score: Math.max(a.kilonova, 1 - a.kilonova),
          scores,
          model: "kn-test",
          version: "1.0.0",
          features: {},
          explanation: { summary: `revision ${a.revision}` },
          computed_at: a.computedAt,
        },
        result_id: a.resultId,
        inputs: [],
        revision: a.revision,
      },
    },
  };
}
