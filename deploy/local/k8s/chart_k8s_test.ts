/**
 * The Helm chart on a real Kubernetes control plane (etcd, kube-apiserver,
 * kube-controller-manager, kube-scheduler built from source, kwok's fake nodes,
 * the KEDA operator and metrics adapter), as `./kb task test:k8s` starts it:
 * install --wait, upgrade rollout, kubectl scale and values reconcile, KEDA's
 * nats-jetstream scaler on a real backlog of an actor's durable consumer in the
 * real local nats-server, refusal of invalid values, ArgoCD Applications
 * against the Application CRD, and an uninstall that leaves nothing.
 *
 * kwok's pods never run their containers: the actors' work is simulated by the
 * test itself (it publishes the backlog and drains it like the actor would).
 * The tests run in order and share one release; the last one prints a table.
 */
import assert from "node:assert/strict";
import { parse as parseYaml, parseAllDocuments, stringify } from "yaml";
import { CHART_DIR } from "../../helm/helm.ts";
import { ACTORS } from "../../../actors/registry.ts";
import { consumerSpecOf, streamOf } from "../../../actors/runtime/runner.ts";
import { runtimeConfig } from "../../../actors/runtime/config.ts";
import {
  connectTestNats,
  localAuthDir,
  natsUrl,
  waitFor,
} from "../../../actors/runtime/testing.ts";
import { CHANNELS } from "../../../contracts/messages.ts";
import {
  type DeploymentJson,
  helmK8s,
  helmOk,
  kubectl,
  kubectlJson,
  kubectlOk,
  rolledOut,
} from "./kube.ts";

const NS = "kb-k8s-test";
const RELEASE = "kb";
const PREFIX = "kb-kilonova-broker";
const INSTANCE = `app.kubernetes.io/instance=${RELEASE}`;
const OPTS = { sanitizeOps: false, sanitizeResources: false };
const ARGOCD = new URL("../../argocd/", import.meta.url).pathname;

/** Secret values put in the values file: they must reach Secrets only. */
const SECRETS = {
  postgres: "postgres://kb:pg-secret-k8s-test@127.0.0.1:15432/kb",
  hopPassword: "hop-secret-k8s-test",
  oidc: "oidc-secret-k8s-test",
};

/** The chart's actors (values.yaml), every one enabled by the test. */
const CHART_ACTORS = (parseYaml(Deno.readTextFileSync(`${CHART_DIR}values.yaml`)) as {
  actors: Record<
    string,
    {
      consumer: { stream: string } | null;
      requiredEnv?: string[];
      autoscaling?: { enabled?: boolean };
    }
  >;
}).actors;
/** Whether the chart lets KEDA scale an actor (it consumes a stream, autoscaling not turned off). */
const autoscaled = (a: string) =>
  !!CHART_ACTORS[a].consumer && CHART_ACTORS[a].autoscaling?.enabled !== false;
/** Actors whose Deployments KEDA scales on their durable consumer's lag. */
const CONSUMING = Object.keys(CHART_ACTORS).filter(autoscaled).sort();
/**
 * Fixed replicas: actors without a stream (KEDA could only scale them on CPU) and
 * those whose values turn autoscaling off (the classifier runs one replica).
 */
const NO_STREAM = Object.keys(CHART_ACTORS).filter((a) => !autoscaled(a)).sort();
/** The fixed-replica actor the scale test changes; it starts with 2 replicas. */
const SCALED = NO_STREAM.includes("observatory") ? "observatory" : NO_STREAM[0];
const FIXED: Record<string, number> = Object.fromEntries(
  NO_STREAM.map((a) => [a, a === SCALED ? 2 : 1]),
);
/** Values for variables an actor requires (`requiredEnv`); placeholders otherwise. */
const REQUIRED_ENV: Record<string, string> = {
  KB_HOP_IN_URL: "kafka://127.0.0.1:19092/kb-k8s-test.igwn-gwalert",
};
const ALL = [...CONSUMING, ...Object.keys(FIXED)].sort();
const MAX_REPLICAS = 4;
const LAG_THRESHOLD = 100;

function monitoringEndpoint(): string {
  const url = Deno.env.get("KB_NATS_MONITOR_URL");
  if (!url) throw new Error("KB_NATS_MONITOR_URL is not set: run `./kb task test:k8s`");
  return new URL(url).host;
}

/**
 * Values of the test install: NATS is the real local nats-server by URL (its
 * monitoring endpoint is what KEDA's scaler reads); PostgreSQL, Hopskotch and
 * Keycloak are external by URL and credentials. No metrics-server runs here,
 * so the CPU trigger is off and actors scale on lag alone; polling is fast.
 */
function testValues(): Record<string, unknown> {
  const actors: Record<string, unknown> = {};
  for (const a of CONSUMING) actors[a] = { enabled: true };
  for (const [a, n] of Object.entries(FIXED)) {
    actors[a] = { enabled: true, replicas: n, autoscaling: { enabled: false } };
  }
  for (const [a, v] of Object.entries(CHART_ACTORS)) {
    const env = Object.fromEntries(
      (v.requiredEnv ?? []).map((k) => [k, REQUIRED_ENV[k] ?? "k8s-test-placeholder"]),
    );
    if (Object.keys(env).length) (actors[a] as Record<string, unknown>).env = env;
  }
  return {
    nats: {
      url: natsUrl(),
      monitoringEndpoint: monitoringEndpoint(),
      account: "$G",
      // The local NATS runs with auth (docs/security.md): each actor mounts its own seed.
      ...(localAuthDir() ? { auth: { enabled: true, existingSecret: NATS_IDENTITIES } } : {}),
    },
    postgres: { url: SECRETS.postgres },
    hopskotch: {
      brokers: "127.0.0.1:19094",
      username: "kb",
      password: SECRETS.hopPassword,
    },
    keycloak: { issuerUrl: "http://127.0.0.1:18080/realms/kb", clientSecret: SECRETS.oidc },
    actorDefaults: {
      autoscaling: {
        minReplicas: 1,
        maxReplicas: MAX_REPLICAS,
        lagThreshold: LAG_THRESHOLD,
        cpuTargetUtilization: 0,
        pollingInterval: 5,
        cooldownPeriod: 30,
      },
    },
    actors,
  };
}

/** The Secret holding the local stack's NATS identity seeds. */
const NATS_IDENTITIES = "kb-nats-identities";

const tmp = Deno.makeTempDirSync({ prefix: "kb-k8s-test-" });
const VALUES = `${tmp}/values.yaml`;

/** What the table at the end reports. */
const report = {
  resources: "",
  availableAfterMs: NaN,
  upgradeMs: NaN,
  scale: "",
  lag: { before: NaN, peak: NaN, after: NaN, backlog: 0, upMs: NaN, downMs: NaN, metric: "" },
  argocd: "",
  uninstall: "",
};

const deployName = (actor: string) => `${PREFIX}-${actor}`;

async function deployments(): Promise<DeploymentJson[]> {
  const list = await kubectlJson<{ items: DeploymentJson[] }>(
    ["get", "deployments", "-n", NS, "-l", INSTANCE],
  );
  return list.items;
}

function deployment(actor: string): Promise<DeploymentJson> {
  return kubectlJson<DeploymentJson>(["get", "deployment", deployName(actor), "-n", NS]);
}

/** Running pods of one actor (kwok's pods stop existing once deleted). */
async function runningPods(actor: string): Promise<number> {
  const pods = await kubectlJson<{ items: { status: { phase: string } }[] }>(
    ["get", "pods", "-n", NS, "-l", `${INSTANCE},app.kubernetes.io/component=${actor}`],
  );
  return pods.items.filter((p) => p.status.phase === "Running").length;
}

async function waitRolledOut(actor: string, want: number, timeoutMs = 120_000) {
  await waitFor(
    `${deployName(actor)} rolled out with ${want} available replicas`,
    async () => {
      const d = await deployment(actor);
      return rolledOut(d, want) && (await runningPods(actor)) === want;
    },
    timeoutMs,
    500,
  );
}

/** A Kubernetes quantity as a number ("800", "1500m", "2k"). */
function quantity(q: string): number {
  const m = /^(-?[0-9.]+)(m|k|M)?$/.exec(q);
  if (!m) throw new Error(`unexpected quantity ${q}`);
  const scale = { m: 1e-3, k: 1e3, M: 1e6 }[m[2] as "m" | "k" | "M"] ?? 1;
  return Number(m[1]) * scale;
}

/** The value of an actor's lag metric as the HPA controller gets it (external.metrics.k8s.io). */
async function externalMetric(actor: string): Promise<{ name: string; value: number }> {
  const hpa = await kubectlJson<{
    spec: {
      metrics: {
        external: { metric: { name: string; selector?: { matchLabels?: Record<string, string> } } };
      }[];
    };
  }>(["get", "hpa", `keda-hpa-${deployName(actor)}`, "-n", NS]);
  const metric = hpa.spec.metrics[0].external.metric;
  const selector = Object.entries(metric.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`)
    .join(",");
  const raw = await kubectlOk([
    "get",
    "--raw",
    `/apis/external.metrics.k8s.io/v1beta1/namespaces/${NS}/${metric.name}` +
    `?labelSelector=${encodeURIComponent(selector)}`,
  ]);
  const items = (JSON.parse(raw) as { items: { value: string }[] }).items;
  assert.equal(items.length, 1, `one value of ${metric.name}: ${raw}`);
  return { name: metric.name, value: quantity(items[0].value) };
}

function countKinds(manifestText: string): Map<string, number> {
  const kinds = new Map<string, number>();
  for (const doc of parseAllDocuments(manifestText)) {
    const m = doc.toJS() as { kind?: string } | null;
    if (m?.kind) kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
  }
  return kinds;
}

Deno.test(
  "k8s: the control plane serves Kubernetes v1.36 with RBAC, Ready kwok nodes and KEDA's external metrics API",
  OPTS,
  async () => {
    const v = await kubectlJson<{ serverVersion: { gitVersion: string } }>(["version"]);
    assert.match(
      v.serverVersion.gitVersion,
      /^v1\.36\.\d+$/,
      "the server reports its stamped version",
    );
    const nobody = await kubectl(
      ["auth", "can-i", "list", "pods", "--as", "system:serviceaccount:default:nobody"],
    );
    assert.equal(nobody.stdout.trim(), "no", "RBAC refuses an identity without bindings");
    const nodes = await kubectlJson<{
      items: {
        spec: { taints?: { key: string }[] };
        status: { conditions: { type: string; status: string }[] };
      }[];
    }>(["get", "nodes"]);
    assert.ok(nodes.items.length >= 2, "two fake nodes");
    for (const n of nodes.items) {
      assert.ok(n.status.conditions.some((c) => c.type === "Ready" && c.status === "True"));
      assert.ok(!(n.spec.taints ?? []).some((t) => t.key === "node.kubernetes.io/not-ready"));
    }
    const api = await kubectlJson<{ status: { conditions: { type: string; status: string }[] } }>(
      ["get", "apiservice", "v1beta1.external.metrics.k8s.io"],
    );
    assert.ok(
      api.status.conditions.some((c) => c.type === "Available" && c.status === "True"),
      "the KEDA metrics adapter serves external.metrics.k8s.io",
    );
    await kubectlOk(["get", "crd", "scaledobjects.keda.sh"]);
  },
);

Deno.test(
  "k8s: helm install --wait makes every actor's Deployment Available; Services, PDBs, ScaledObjects exist; secrets are referenced",
  OPTS,
  async () => {
    // Leftovers of an interrupted run go first.
    await helmK8s(["uninstall", RELEASE, "-n", NS, "--wait"]);
    await kubectl([
      "delete",
      "namespace",
      NS,
      "--ignore-not-found",
      "--wait=true",
      "--timeout=120s",
    ]);
    await kubectlOk(["create", "namespace", NS]);
    const authDir = localAuthDir();
    if (authDir) {
      await kubectlOk([
        "create",
        "secret",
        "generic",
        NATS_IDENTITIES,
        "-n",
        NS,
        ...[...Deno.readDirSync(authDir)].filter((e) => e.name.endsWith(".nk"))
          .map((e) => `--from-file=${authDir}/${e.name}`),
      ]);
    }
    Deno.writeTextFileSync(VALUES, stringify(testValues()));

    const t0 = performance.now();
    await helmOk([
      "install",
      RELEASE,
      CHART_DIR,
      "-n",
      NS,
      "-f",
      VALUES,
      "--wait",
      "--timeout",
      "5m",
    ]);
    // helm's --wait counts ready pods of the new ReplicaSets; the Deployment
    // controller marks the Deployments Available a moment later.
    for (const a of ALL) await waitRolledOut(a, FIXED[a] ?? 1, 30_000);
    report.availableAfterMs = performance.now() - t0;

    const deps = await deployments();
    assert.deepEqual(deps.map((d) => d.metadata.name).sort(), ALL.map(deployName));
    for (const a of ALL) {
      const d = deps.find((x) => x.metadata.name === deployName(a))!;
      const want = FIXED[a] ?? 1;
      assert.ok(
        rolledOut(d, want),
        `${a}: Available with ${want} replicas: ${JSON.stringify(d.status)}`,
      );
    }

    const names = async (kind: string) =>
      (await kubectlOk(["get", kind, "-n", NS, "-l", INSTANCE, "-o", "name"])).trim().split("\n")
        .filter(Boolean).map((n) => n.split("/")[1]).sort();
    assert.deepEqual(await names("services"), ALL.map(deployName));
    assert.deepEqual(await names("poddisruptionbudgets"), ALL.map(deployName));
    assert.deepEqual(await names("scaledobjects.keda.sh"), CONSUMING.map(deployName));

    // KEDA took the ScaledObjects in: each is Ready and owns an HPA on the external metric.
    for (const a of CONSUMING) {
      await waitFor(
        `ScaledObject ${a} Ready`,
        async () => {
          const so = await kubectlJson<
            { status?: { conditions?: { type: string; status: string }[] } }
          >(
            ["get", "scaledobject.keda.sh", deployName(a), "-n", NS],
          );
          return so.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
        },
        60_000,
        500,
      );
      const hpa = await kubectlJson<{ spec: { metrics: { type: string }[]; maxReplicas: number } }>(
        ["get", "hpa", `keda-hpa-${deployName(a)}`, "-n", NS],
      );
      assert.deepEqual(hpa.spec.metrics.map((m) => m.type), ["External"]);
      assert.equal(hpa.spec.maxReplicas, MAX_REPLICAS);
    }

    // Secret values live in Secrets and are referenced from the pods, never inlined.
    const depText = JSON.stringify(deps);
    for (const s of Object.values(SECRETS)) assert.ok(!depText.includes(s), "no secret inlined");
    for (const a of ["archiver", "tom"]) {
      const env = deps.find((d) => d.metadata.name === deployName(a))!.spec.template.spec
        .containers[0].env ?? [];
      const db = env.find((e) => e.name === "KB_DATABASE_URL");
      assert.ok(db?.valueFrom?.secretKeyRef, `${a}: KB_DATABASE_URL from a Secret`);
    }
    const secretText = await kubectlOk(["get", "secrets", "-n", NS, "-l", INSTANCE, "-o", "json"]);
    assert.ok(secretText.includes(btoa(SECRETS.postgres)), "the database URL is in a Secret");

    const kinds = countKinds(await helmOk(["get", "manifest", RELEASE, "-n", NS]));
    const total = [...kinds.values()].reduce((a, b) => a + b, 0);
    report.resources = `${total}: ` +
      [...kinds].sort().map(([k, n]) => `${n} ${k}`).join(", ") +
      ` (+ ${CONSUMING.length} HPA by KEDA)`;
  },
);

Deno.test("k8s: helm upgrade with changed values rolls every Deployment out", OPTS, async () => {
  const before = new Map((await deployments()).map((d) => [
    d.metadata.name,
    Number(d.metadata.annotations?.["deployment.kubernetes.io/revision"]),
  ]));
  const t0 = performance.now();
  await helmOk([
    "upgrade",
    RELEASE,
    CHART_DIR,
    "-n",
    NS,
    "-f",
    VALUES,
    "--set",
    "runtime.KB_LOG_LEVEL=debug",
    "--wait",
    "--timeout",
    "5m",
  ]);
  for (const a of ALL) await waitRolledOut(a, FIXED[a] ?? 1);
  report.upgradeMs = performance.now() - t0;
  for (const d of await deployments()) {
    const rev = Number(d.metadata.annotations?.["deployment.kubernetes.io/revision"]);
    assert.equal(rev, before.get(d.metadata.name)! + 1, `${d.metadata.name}: a new ReplicaSet`);
  }
  const cm = await kubectlJson<{ data: Record<string, string> }>(
    ["get", "configmap", `${PREFIX}-runtime`, "-n", NS],
  );
  assert.equal(cm.data.KB_LOG_LEVEL, "debug");
  const history = JSON.parse(await helmOk(["history", RELEASE, "-n", NS, "-o", "json"])) as {
    revision: number;
    status: string;
  }[];
  assert.deepEqual(history.map((h) => [h.revision, h.status]), [[1, "superseded"], [
    2,
    "deployed",
  ]]);
});

Deno.test("k8s: kubectl scale and a values change of replicas reconcile", OPTS, async () => {
  const a = SCALED;
  await waitRolledOut(a, 2);
  await kubectlOk(["scale", "deployment", deployName(a), "-n", NS, "--replicas=3"]);
  await waitRolledOut(a, 3);
  await helmOk([
    "upgrade",
    RELEASE,
    CHART_DIR,
    "-n",
    NS,
    "-f",
    VALUES,
    "--set",
    "runtime.KB_LOG_LEVEL=debug",
    "--set",
    `actors.${a}.replicas=1`,
    "--wait",
    "--timeout",
    "5m",
  ]);
  await waitRolledOut(a, 1);
  report.scale = `${a}: values 2 → kubectl scale 3 → values 1 (reconciled)`;
});

Deno.test(
  "k8s: KEDA's nats-jetstream scaler raises replicas on a real consumer backlog and lowers them once drained",
  OPTS,
  async () => {
    const actor = ACTORS.echo;
    const spec = consumerSpecOf(actor, runtimeConfig());
    const t = await connectTestNats("kb-k8s-test");
    try {
      // The stream and durable consumer exactly as the actor creates them, fresh.
      await t.deleteStream(spec.stream);
      await t.ensureStream(streamOf(actor.input.subject));
      await t.ensureConsumer(spec);
      await waitRolledOut("echo", 1);
      report.lag.before = (await deployment("echo")).spec.replicas;

      const backlog = LAG_THRESHOLD * MAX_REPLICAS * 2;
      const enc = new TextEncoder();
      for (let seq = 0; seq < backlog; seq++) {
        const ping = CHANNELS.demoPing.schema.parse({ seq, sentAt: Date.now() });
        await t.publish(CHANNELS.demoPing.subject, enc.encode(JSON.stringify(ping)), {
          msgId: `k8s-lag-${seq}`,
        });
      }
      report.lag.backlog = backlog;
      assert.equal((await t.consumerState(spec.stream, spec.durable)).pending, backlog);

      const up0 = performance.now();
      await waitRolledOut("echo", MAX_REPLICAS, 180_000);
      report.lag.upMs = performance.now() - up0;
      report.lag.peak = (await deployment("echo")).spec.replicas;
      // What the HPA reads: KEDA's metric through the aggregated external metrics API.
      const seen = await externalMetric("echo");
      assert.equal(seen.value, backlog, `the scaler reports the backlog as ${seen.name}`);
      report.lag.metric = `${seen.name} = ${seen.value}`;

      // Drain: consume and acknowledge the backlog like the actor's replicas would.
      const sub = await t.consume(spec.stream, spec.durable, { maxMessages: 256 });
      let acked = 0;
      for await (const d of sub) {
        await d.ack();
        if (++acked === backlog) break;
      }
      await sub.stop();
      await waitFor(
        "the backlog acknowledged",
        async () => {
          const s = await t.consumerState(spec.stream, spec.durable);
          return s.pending === 0 && s.ackPending === 0;
        },
        30_000,
        200,
      );

      const down0 = performance.now();
      await waitRolledOut("echo", 1, 180_000);
      report.lag.downMs = performance.now() - down0;
      report.lag.after = (await deployment("echo")).spec.replicas;
      assert.equal((await externalMetric("echo")).value, 0, "the scaler reports no lag");
      assert.equal(report.lag.before, 1);
      assert.equal(report.lag.peak, MAX_REPLICAS);
      assert.equal(report.lag.after, 1);
    } finally {
      await t.deleteStream(spec.stream);
      await t.close();
    }
  },
);

Deno.test(
  "k8s: an invalid values file is refused with a clear message and installs nothing",
  OPTS,
  async () => {
    const bad = `${tmp}/invalid.yaml`;
    Deno.writeTextFileSync(bad, stringify({ actorDefaults: { replicas: "two" } }));
    const r = await helmK8s(["install", "kb-invalid", CHART_DIR, "-n", NS, "-f", bad, "--wait"]);
    assert.ok(!r.ok, "helm refuses the values");
    assert.match(r.stderr, /values don't meet the specifications of the schema/);
    assert.match(r.stderr, /actorDefaults[./]replicas/);
    assert.match(r.stderr, /integer/);
    const releases = JSON.parse(await helmOk(["list", "-n", NS, "-a", "-o", "json"])) as {
      name: string;
    }[];
    assert.deepEqual(releases.map((x) => x.name), [RELEASE], "nothing of kb-invalid was installed");
  },
);

Deno.test(
  "k8s: the ArgoCD Applications validate against the Application CRD with --dry-run=server",
  OPTS,
  async () => {
    const share = Deno.env.get("KB_K8S_SHARE");
    if (!share) throw new Error("KB_K8S_SHARE is not set: run `./kb task test:k8s`");
    await kubectlOk(["apply", "--server-side", "-f", `${share}/argocd/`]);
    for (const crd of ["applications.argoproj.io", "appprojects.argoproj.io"]) {
      await waitFor(
        `CRD ${crd} Established`,
        async () => {
          const c = await kubectlJson<
            { status?: { conditions?: { type: string; status: string }[] } }
          >(
            ["get", "crd", crd],
          );
          return c.status?.conditions?.some((x) => x.type === "Established" && x.status === "True");
        },
        60_000,
        250,
      );
    }
    const ns = await kubectl(["get", "namespace", "argocd"]);
    if (!ns.ok) await kubectlOk(["create", "namespace", "argocd"]);
    const out = await kubectlOk([
      "apply",
      "--dry-run=server",
      "-f",
      `${ARGOCD}project.yaml`,
      "-f",
      `${ARGOCD}root-production.yaml`,
      "-f",
      `${ARGOCD}environments/production/`,
    ]);
    const accepted = out.trim().split("\n").filter((l) => /\(server dry run\)$/.test(l));
    assert.equal(accepted.length, 5, out);
    // The server really validates: a malformed Application is refused.
    const broken = stringify({
      apiVersion: "argoproj.io/v1alpha1",
      kind: "Application",
      metadata: { name: "broken", namespace: "argocd" },
      spec: { project: "default", destination: "kilonova", source: { repoURL: "x" } },
    });
    const r = await kubectl(["apply", "--dry-run=server", "-f", "-"], broken);
    assert.ok(!r.ok, "a malformed Application is refused");
    assert.match(r.stderr, /spec\.destination/);
    report.argocd = `${accepted.length} accepted (server dry run), malformed one refused`;
  },
);

Deno.test("k8s: helm uninstall leaves nothing behind", OPTS, async () => {
  try {
    await helmOk(["uninstall", RELEASE, "-n", NS, "--wait", "--timeout", "3m"]);
    // The identities Secret is the operator's (made before install, as in production), not
    // the release's: the test that made it removes it.
    await kubectlOk(["delete", "secret", NATS_IDENTITIES, "-n", NS, "--ignore-not-found"]);
    const types = (await kubectlOk(["api-resources", "--verbs=list", "--namespaced", "-o", "name"]))
      .trim().split("\n").filter((t) => t !== "events" && t !== "events.events.k8s.io");
    // What every namespace has by itself.
    const own = new Set(["configmap/kube-root-ca.crt", "serviceaccount/default"]);
    let left: string[] = [];
    await waitFor(
      "the namespace to hold nothing of the release",
      async () => {
        left = (await kubectlOk(["get", types.join(","), "-n", NS, "-o", "name"]))
          .trim().split("\n").filter((l) => l && !own.has(l));
        return left.length === 0;
      },
      120_000,
      1000,
    ).catch((err) => {
      throw new Error(`${err.message}; left: ${left.join(", ")}`);
    });
    const clusterWide = (await kubectlOk([
      "get",
      "clusterroles,clusterrolebindings,apiservices,mutatingwebhookconfigurations,validatingwebhookconfigurations",
      "-l",
      INSTANCE,
      "-o",
      "name",
    ])).trim();
    assert.equal(clusterWide, "", "no cluster-scoped resource of the release");
    await kubectlOk(["delete", "namespace", NS, "--wait=true", "--timeout=120s"]);
    report.uninstall = `nothing left (${types.length} namespaced kinds listed)`;
  } finally {
    printReport();
  }
});

function printReport() {
  const s = (ms: number) => Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : "n/a";
  const rows: [string, string][] = [
    ["resources installed", report.resources || "n/a"],
    ["time to all Deployments Available (helm install --wait)", s(report.availableAfterMs)],
    ["helm upgrade rollout (all Deployments)", s(report.upgradeMs)],
    ["scale and values reconcile", report.scale || "n/a"],
    ["lag backlog published on echo's durable consumer", `${report.lag.backlog} messages`],
    ["lag as the HPA reads it (KEDA nats-jetstream)", report.lag.metric || "n/a"],
    [
      "echo replicas before → after scale-up",
      `${report.lag.before} → ${report.lag.peak} (in ${s(report.lag.upMs)})`,
    ],
    [
      "echo replicas after drain (scale-down)",
      `${report.lag.peak} → ${report.lag.after} (in ${s(report.lag.downMs)})`,
    ],
    ["ArgoCD Applications", report.argocd || "n/a"],
    ["helm uninstall", report.uninstall || "n/a"],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  console.log(`\nchart on the local control plane\n${"-".repeat(w + 40)}`);
  for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
  console.log("");
}
