/**
 * Lint of deploy/container/Containerfile (no container engine or hadolint
 * here): pinned bases on the project's Deno, non-root user matching the chart,
 * no remote ADD, dependencies pre-cached in DENO_DIR and run with
 * --cached-only, exec-form entrypoint equal to `deno task actor`, a health
 * check on /healthz, writable places declared as volumes and mounted by the
 * chart, and every source file the entry points import copied in.
 */
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import {
  containerEntrypoints,
  envOf,
  execForm,
  finalStage,
  globalArgs,
  type Instruction,
  parseContainerfile,
  readContainerfile,
} from "./containerfile.ts";
import { find, render } from "../helm/helm.ts";

const ROOT = new URL("../../", import.meta.url);
const ins = readContainerfile();
const last = finalStage(ins);
const inStage = (stage: number, keyword: string) =>
  ins.filter((i) => i.stage === stage && i.keyword === keyword);
const args = globalArgs(ins);
const expand = (s: string) =>
  s.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, n) => args[n] ?? "");

function kbDenoVersion(): string {
  const m = /^version="([^"]+)"/m.exec(Deno.readTextFileSync(new URL("kb", ROOT)));
  assert.ok(m, "./kb pins a Deno version");
  return m[1];
}

function chartValues(): { http: { port: number }; podSecurityContext: { runAsUser: number } } {
  return parseYaml(
    Deno.readTextFileSync(new URL("deploy/helm/kilonova-broker/values.yaml", ROOT)),
  );
}

Deno.test("Containerfile: the parser handles continuations, comments, stages and exec form", () => {
  const parsed = parseContainerfile(
    'ARG A="x y"\n# c\nFROM img:1.2.3 AS b\nRUN one \\\n  # inner\n  two\nFROM b\nCMD ["a", "b"]\n',
  );
  assert.deepEqual(parsed.map((i) => [i.keyword, i.stage, i.line]), [
    ["ARG", -1, 1],
    ["FROM", 0, 3],
    ["RUN", 0, 4],
    ["FROM", 1, 7],
    ["CMD", 1, 8],
  ]);
  assert.equal(parsed[2].args, "one two");
  assert.deepEqual(globalArgs(parsed), { A: "x y" });
  assert.deepEqual(execForm(parsed[4].args), ["a", "b"]);
  assert.equal(execForm("echo hi"), undefined);
});

Deno.test("Containerfile: every base image is pinned, on the same Deno as ./kb", () => {
  const froms = ins.filter((i) => i.keyword === "FROM");
  assert.ok(froms.length >= 1);
  const stageNames = new Set<string>();
  for (const f of froms) {
    const [image, as, name] = expand(f.args).split(/\s+/);
    if (as?.toUpperCase() === "AS") stageNames.add(name);
    if (stageNames.has(image)) continue;
    const pinned = /@sha256:[a-f0-9]{64}$/.test(image) ||
      /:[^:@/]*\d+\.\d+\.\d+[^:@/]*$/.test(image);
    assert.ok(pinned, `line ${f.line}: ${image} is not pinned to a full version or digest`);
    assert.doesNotMatch(image, /:latest$/);
  }
  assert.equal(args.DENO_VERSION, kbDenoVersion(), "the image's Deno is the one ./kb installs");
});

Deno.test("Containerfile: runs as a non-root user, the uid the chart's pods run as", () => {
  const users = inStage(last, "USER");
  assert.ok(users.length > 0, "the final stage sets USER");
  const user = users.at(-1)!.args;
  const uid = user.split(":")[0];
  assert.ok(/^\d+$/.test(uid), `USER ${user}: numeric, so runAsNonRoot can verify it`);
  assert.notEqual(Number(uid), 0, "not root");
  assert.equal(Number(uid), chartValues().podSecurityContext.runAsUser);
  const after = ins.filter((i) => i.stage === last && i.line > users.at(-1)!.line);
  assert.ok(
    !after.some((i) => i.keyword === "RUN" || i.keyword === "USER"),
    "nothing runs as root after USER",
  );
});

Deno.test("Containerfile: no ADD of URLs or archives; COPY sources exist in the repository", () => {
  for (const i of ins.filter((x) => x.keyword === "ADD")) {
    assert.fail(`line ${i.line}: ADD ${i.args}; use COPY (and no remote sources)`);
  }
  for (const i of ins.filter((x) => x.keyword === "COPY" && !x.args.startsWith("--from"))) {
    const parts = (execForm(i.args) ?? i.args.split(/\s+/)).filter((p) => !p.startsWith("--"));
    for (const src of parts.slice(0, -1)) {
      assert.doesNotMatch(src, /^[a-z]+:\/\//, `line ${i.line}: remote source`);
      Deno.statSync(new URL(src, ROOT)); // throws when missing
    }
  }
});

Deno.test("Containerfile: dependencies are pre-cached into DENO_DIR and used --cached-only", () => {
  const buildStages = new Set(ins.filter((i) => i.stage < last).map((i) => i.stage));
  const buildDenoDir = [...buildStages].map((s) => envOf(ins, s).DENO_DIR).find(Boolean);
  const runDenoDir = envOf(ins, last).DENO_DIR;
  assert.ok(runDenoDir, "the final stage sets DENO_DIR");
  assert.equal(buildDenoDir, runDenoDir, "the cache is built where it is used");
  const install = ins.find((i) =>
    i.keyword === "RUN" && /deno install .*--entrypoint/.test(i.args)
  );
  assert.ok(install, "a RUN deno install --entrypoint caches the dependencies");
  assert.match(install.args, /--frozen/, "the lock file is enforced");
  assert.match(install.args, /\$\{?KB_ENTRYPOINTS\}?/, "every entry point is cached");
  assert.ok(
    inStage(last, "COPY").some((c) => c.args.startsWith("--from=") && c.args.includes(runDenoDir)),
    "the final stage copies the cache in",
  );
  const entry = execForm(inStage(last, "ENTRYPOINT").at(-1)!.args)!;
  assert.ok(entry.includes("--cached-only"), "nothing is fetched at run time");
  for (const e of containerEntrypoints()) {
    assert.ok(Deno.statSync(new URL(e, ROOT)).isFile, `entry point ${e} exists`);
  }
});

Deno.test("Containerfile: the entrypoint is `deno task actor` (exec form), the argument names the actor", () => {
  const tasks = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT))).tasks as Record<
    string,
    string
  >;
  const entry = execForm(inStage(last, "ENTRYPOINT").at(-1)!.args);
  assert.ok(entry, "ENTRYPOINT in exec form, so SIGTERM reaches deno as PID 1");
  assert.deepEqual(
    entry.filter((a) => a !== "--cached-only"),
    tasks.actor.split(/\s+/),
    "the entrypoint runs what `deno task actor` runs",
  );
  const cmd = execForm(inStage(last, "CMD").at(-1)!.args);
  assert.deepEqual(cmd, ["echo"], "default actor: echo");
  // deno.json tasks the chart runs have their entry files pre-cached.
  for (const task of ["actor", "hop-inbound", "replay"]) {
    if (!tasks[task]) continue;
    const file = tasks[task].split(/\s+/).find((a) => a.endsWith(".ts"));
    assert.ok(
      file && containerEntrypoints().includes(file),
      `deno task ${task} runs ${file}: add it to ARG KB_ENTRYPOINTS in the Containerfile`,
    );
  }
});

Deno.test("Containerfile: a HEALTHCHECK on /healthz at the port the chart probes", () => {
  const hc = inStage(last, "HEALTHCHECK").at(-1);
  assert.ok(hc, "HEALTHCHECK declared (Kubernetes uses the chart's probes instead)");
  assert.match(hc.args, /CMD \[/, "exec form");
  assert.match(hc.args, /\/healthz/);
  const port = chartValues().http.port;
  assert.equal(envOf(ins, last).KB_HTTP_PORT, String(port));
  assert.ok(inStage(last, "EXPOSE").some((e) => e.args.split(/\s+/).includes(String(port))));
});

Deno.test("Containerfile: writable places are volumes, and the chart mounts an emptyDir on each", async () => {
  const volumes = inStage(last, "VOLUME").flatMap((v) => execForm(v.args) ?? v.args.split(/\s+/));
  assert.ok(volumes.includes("/tmp"), "/tmp is a volume");
  const home = envOf(ins, last).HOME;
  assert.ok(home && volumes.some((v) => home.startsWith(v)), `HOME (${home}) is writable`);
  const deployments = await render();
  const d = find(deployments, "Deployment", "kb-kilonova-broker-echo");
  const mounts = d.spec.template.spec.containers[0].volumeMounts.map((m: { mountPath: string }) =>
    m.mountPath
  );
  for (const v of volumes) assert.ok(mounts.includes(v), `the chart mounts ${v}`);
  assert.equal(d.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem, true);
});

Deno.test("Containerfile: every local module the entry points import is copied into the image", async () => {
  const copied = ins.filter((i) => i.keyword === "COPY" && !i.args.startsWith("--from"))
    .flatMap((i) => {
      const parts = (execForm(i.args) ?? i.args.split(/\s+/)).filter((p) => !p.startsWith("--"));
      return parts.slice(0, -1);
    });
  const root = ROOT.href;
  const local: string[] = [];
  for (const entry of containerEntrypoints()) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
      modules: { specifier: string }[];
    };
    local.push(
      ...info.modules.map((m) => m.specifier).filter((s) => s.startsWith(root))
        .map((s) => s.slice(root.length)),
    );
  }
  assert.ok(local.length > 10, "the graph was read");
  for (const file of local) {
    assert.ok(
      copied.some((c) => (c.endsWith("/") ? file.startsWith(c) : file === c)),
      `${file} is imported by an entry point but no COPY brings it into the image`,
    );
  }
});

/** Instructions of the final stage, for other tests. */
export function finalInstructions(): Instruction[] {
  return ins.filter((i) => i.stage === last);
}
