/**
 * `deno task tom-schemathesis`: property-based API testing of the TOM with
 * schemathesis (PyPI). Installs schemathesis into `.tools/schemathesis-venv`
 * (pinned), starts a TOM (database: `KB_DATABASE_URL` in a fresh database, else
 * embedded PGlite; tokens: Keycloak when `KB_OIDC_ISSUER` is set, else the
 * development issuer), seeds a few targets, and runs `st run` against
 * `/openapi.json` with an admin token. Passes when no response is a 5xx.
 *
 *   deno task tom-schemathesis [--max-examples N] [extra st run args...]
 *
 * @module
 */
import { runtimeConfig } from "../../../actors/runtime/config.ts";
import { createLogger } from "../../../actors/runtime/log.ts";
import { loadTomConfig } from "../config.ts";
import { startTom } from "../server.ts";
import { createTarget } from "../store/targets.ts";
import { createTestDatabase, fetchToken, type TestDatabase } from "../testing.ts";

const VERSION = "4.32.5";
const ROOT = new URL("../../../", import.meta.url).pathname;
const VENV = `${ROOT}.tools/schemathesis-venv`;

async function run(cmd: string, args: string[], quiet = false, cwd?: string): Promise<number> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    stdout: quiet ? "null" : "inherit",
    stderr: quiet ? "piped" : "inherit",
  }).output();
  if (!out.success && quiet) console.error(new TextDecoder().decode(out.stderr));
  return out.code;
}

/** Creates the venv and installs the pinned schemathesis unless it is there. */
async function ensureSchemathesis(): Promise<string> {
  const st = `${VENV}/bin/st`;
  try {
    const v = await new Deno.Command(st, { args: ["--version"], stdout: "piped" }).output();
    if (new TextDecoder().decode(v.stdout).includes(VERSION)) return st;
  } catch { /* not installed yet */ }
  console.error(`installing schemathesis ${VERSION} into ${VENV} ...`);
  if (await run("python3", ["-m", "venv", VENV], true) !== 0) {
    throw new Error("python3 -m venv failed: install python3-venv (apt-get install python3-venv)");
  }
  if (await run(`${VENV}/bin/pip`, ["install", "-q", `schemathesis==${VERSION}`], true) !== 0) {
    throw new Error(`pip install schemathesis==${VERSION} failed (output above)`);
  }
  return st;
}

if (import.meta.main) {
  const st = await ensureSchemathesis();
  let db: TestDatabase | undefined;
  if (Deno.env.get("KB_DATABASE_URL")) db = await createTestDatabase("tom_st");
  const issuer = Deno.env.get("KB_OIDC_ISSUER");
  const tom = await startTom(
    loadTomConfig({
      KB_TOM_PORT: "0",
      KB_TOM_BROKER: "false",
      KB_TOM_RATE_LIMIT: "false", // the fuzzer sends faster than any client should
      KB_DATABASE_URL: db?.url,
      KB_OIDC_ISSUER: issuer,
      KB_OIDC_AUDIENCE: Deno.env.get("KB_OIDC_AUDIENCE"),
    }),
    runtimeConfig({ KB_TRANSPORT: "memory", KB_HTTP_PORT: 0, KB_LOG_LEVEL: "error" }),
    { log: createLogger({ level: "error", fields: { app: "tom" } }) },
  );
  let code = 1;
  try {
    for (let i = 1; i <= 20; i++) {
      await createTarget(tom.sql, { name: `seed-${i}`, ra: i * 17 % 360, dec: i * 7 - 70 });
    }
    const token = issuer
      ? await fetchToken(issuer, {
        grant_type: "password",
        client_id: Deno.env.get("KB_OIDC_TEST_CLIENT_ID") ?? "tom-test",
        client_secret: Deno.env.get("KB_OIDC_TEST_CLIENT_SECRET") ?? "tom-test-dev-secret",
        username: "admin",
        password: "admin-pw",
      })
      : await tom.devIssuer!.tokenFor("admin");
    const extra = Deno.args.length ? Deno.args : ["--max-examples", "50"];
    console.error(`schemathesis against ${tom.url}/openapi.json (issuer ${tom.verifier.issuer})`);
    code = await run(
      st,
      [
        "run",
        `${tom.url}/openapi.json`,
        "--header",
        `Authorization: Bearer ${token}`,
        "--checks",
        "not_a_server_error",
        "--workers",
        "2",
        "--seed",
        "1",
        ...extra,
        // Its cache (.schemathesis/) goes to the venv, not the work tree.
      ],
      false,
      VENV,
    );
  } finally {
    await tom.stop();
    await db?.drop();
  }
  Deno.exit(code);
}
