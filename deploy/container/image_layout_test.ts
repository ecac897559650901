/**
 * The container recipe's run-time promises, checked without a container
 * engine: the files its build stage COPYs, cached with its `deno install`
 * into a fresh DENO_DIR, made read-only and owned by root, then run with its
 * ENTRYPOINT, CMD and ENV as its non-root USER against the real NATS server.
 * The actor must start from the cache alone (--cached-only), serve /healthz
 * and /readyz, write nothing into the code or the cache, and drain on SIGTERM.
 */
import assert from "node:assert/strict";
import { natsIdentityEnv, natsUrl, waitFor } from "../../actors/runtime/testing.ts";
import { identityForProcess } from "../nats/identities.ts";
import {
  containerEntrypoints,
  envOf,
  execForm,
  finalStage,
  readContainerfile,
} from "./containerfile.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const ins = readContainerfile();
const last = finalStage(ins);
const opts = { sanitizeOps: false, sanitizeResources: false };

async function run(cmd: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const out = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: options.cwd,
    env: options.env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Copies the build context the way the build stage's COPY lines do (tests excluded). */
async function stageSources(app: string) {
  for (const i of ins.filter((x) => x.keyword === "COPY" && !x.args.startsWith("--from"))) {
    const parts = (execForm(i.args) ?? i.args.split(/\s+/)).filter((p) => !p.startsWith("--"));
    for (const src of parts.slice(0, -1)) {
      const r = await run(["cp", "-R", `${ROOT}${src.replace(/\/$/, "")}`, `${app}/`]);
      assert.equal(r.code, 0, r.stderr);
    }
  }
  const r = await run(["find", app, "-name", "*_test.ts", "-delete"]);
  assert.equal(r.code, 0, r.stderr);
}

/** Every file under `dir` with its size and modification time. */
async function snapshot(dir: string): Promise<string> {
  const r = await run(["find", dir, "-printf", "%P %s %T@\\n"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split("\n").sort().join("\n");
}

Deno.test({
  name: "image layout: the actor runs from the read-only cache as the image's non-root USER",
  ...opts,
  async fn() {
    assert.equal(
      Deno.uid(),
      0,
      "this test switches to the image's uid with setpriv and must run as root (CI does)",
    );
    const user = ins.filter((i) => i.stage === last && i.keyword === "USER").at(-1)!.args;
    const [uid, gid] = user.split(":");
    const imageEnv = envOf(ins, last);
    const base = await Deno.makeTempDir({ prefix: "kb-image-" });
    const app = `${base}/app`;
    const denoDir = `${base}/deno-dir`;
    const home = `${base}/tmp`;
    let child: Deno.ChildProcess | undefined;
    try {
      await Deno.chmod(base, 0o755);
      await Deno.mkdir(app);
      await Deno.mkdir(home);
      await Deno.chown(home, Number(uid), Number(gid ?? uid));
      await stageSources(app);

      // The build stage's RUN: cache every entry point with the lock file enforced.
      const install = await run(
        [Deno.execPath(), "install", "--frozen", "--entrypoint", ...containerEntrypoints()],
        { cwd: app, env: { DENO_DIR: denoDir } },
      );
      assert.equal(install.code, 0, `deno install failed:\n${install.stderr}`);
      // Root-owned and read-only, like COPY --from into the final stage.
      assert.equal((await run(["chmod", "-R", "a-w,a+rX", app, denoDir])).code, 0);
      const before = await snapshot(base + "/deno-dir") + (await snapshot(app));

      const entry = execForm(
        ins.filter((i) => i.stage === last && i.keyword === "ENTRYPOINT")
          .at(-1)!.args,
      )!;
      const cmd = execForm(
        ins.filter((i) => i.stage === last && i.keyword === "CMD").at(-1)!
          .args,
      )!;
      const env: Record<string, string> = {
        ...imageEnv,
        PATH: "/usr/bin:/bin",
        DENO_DIR: denoDir,
        HOME: home,
        KB_NATS_URL: natsUrl(),
        KB_HTTP_PORT: "0",
        KB_HTTP_HOST: "127.0.0.1",
        KB_REPLICA_ID: "image-layout",
      };
      // The actor's own NATS identity (deploy/nats), its seed readable by the image's user.
      const actorId = identityForProcess([...entry, ...cmd]);
      const identity = actorId ? natsIdentityEnv(actorId) : {};
      if (identity.KB_NATS_NKEY_FILE) {
        const seed = `${home}/nats.nk`;
        await Deno.copyFile(identity.KB_NATS_NKEY_FILE, seed);
        await Deno.chown(seed, Number(uid), Number(gid ?? uid));
        await Deno.chmod(seed, 0o600);
        Object.assign(env, { ...identity, KB_NATS_NKEY_FILE: seed });
      }
      assert.equal(entry[0], "deno");
      const argv = [Deno.execPath(), ...entry.slice(1), ...cmd];
      child = new Deno.Command("setpriv", {
        args: ["--reuid", uid, "--regid", gid ?? uid, "--clear-groups", "--", ...argv],
        cwd: app,
        clearEnv: true,
        env,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const lines: string[] = [];
      let port = 0;
      const pump = (async () => {
        let buf = "";
        for await (const chunk of child!.stderr.pipeThrough(new TextDecoderStream())) {
          buf += chunk;
          let nl;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            lines.push(line);
            try {
              const e = JSON.parse(line);
              if (e.msg === "host ready") port = e.opsPort;
            } catch { /* not JSON: kept in lines for the failure message */ }
          }
        }
      })();
      const status = child.status;
      await Promise.race([
        waitFor("the actor to report ready", () => port > 0, 30_000, 50),
        status.then(async (s) => {
          await pump;
          throw new Error(`the actor exited with ${s.code} before ready:\n${lines.join("\n")}`);
        }),
      ]);
      for (const path of ["/healthz", "/readyz"]) {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        assert.equal(res.status, 200, `${path}: ${await res.text()}`);
      }
      child.kill("SIGTERM");
      const s = await status;
      await pump;
      child = undefined;
      assert.equal(s.code, 0, `clean drain on SIGTERM:\n${lines.join("\n")}`);
      assert.ok(lines.some((l) => l.includes('"stopped cleanly"')));
      assert.ok(
        !lines.some((l) => /Download|EACCES|Permission denied|read-only/i.test(l)),
        `nothing fetched or written:\n${lines.join("\n")}`,
      );
      const after = await snapshot(base + "/deno-dir") + (await snapshot(app));
      assert.equal(after, before, "the code and the cache are unchanged");

      // The other entry points load from the cache too: each gets past module loading
      // (it stops at its own configuration or connection step, or keeps running).
      for (const e of containerEntrypoints().filter((x) => x !== "actors/main.ts")) {
        const other = new Deno.Command("setpriv", {
          args: ["--reuid", uid, "--regid", gid ?? uid, "--clear-groups", "--", Deno.execPath()]
            .concat(["run", "-A", "--cached-only", e]),
          cwd: app,
          clearEnv: true,
          env: { ...env, KB_KAFKA_BROKERS: "127.0.0.1:1" },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const timer = setTimeout(() => other.kill("SIGKILL"), 8000);
        const r = await other.output();
        clearTimeout(timer);
        const text = new TextDecoder().decode(r.stderr) + new TextDecoder().decode(r.stdout);
        assert.doesNotMatch(
          text,
          /error: (Import|Module not found|Failed to load)|not found in cache|--cached-only|Download /i,
          `${e} could not load from the cache:\n${text}`,
        );
        assert.ok(text.length > 0 || r.signal === "SIGKILL", `${e} ran: ${text}`);
      }
    } finally {
      if (child) {
        try {
          child.kill("SIGKILL");
        } catch { /* it has exited already */ }
        await child.status;
      }
      await run(["chmod", "-R", "u+w", base]);
      await Deno.remove(base, { recursive: true });
    }
  },
});
