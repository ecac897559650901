/**
 * The chart's contract, checked on what helm really renders: lint, schema
 * validation of every manifest (Kubernetes, KEDA, Prometheus Operator), one
 * Deployment per enabled actor with probes, resources, a non-root read-only
 * security context and secrets by reference; autoscaling follows values; the
 * values agree with the actor registry and contracts/names.ts.
 */
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { CONSUMERS, streamForSubject, STREAMS } from "../../contracts/names.ts";
import { ACTORS } from "../../actors/registry.ts";
import { RUNTIME_ENV } from "../../actors/runtime/config.ts";
import { KAFKA_ENV } from "../../gateway/hopskotch/config.ts";
import { OUTBOUND_ENV } from "../../gateway/hopskotch/outbound.ts";
import { INBOUND_ENV } from "../../gateway/hopskotch/inbound_main.ts";
import { OBSERVATORY_ENV } from "../../actors/observatory/server.ts";
import { TOM_ENV } from "../../gateway/tom/config.ts";
import { containerEntrypoints } from "../container/containerfile.ts";
import { CHART_DIR, find, helm, type Manifest, ofKind, render, renderError } from "./helm.ts";
import { validateAll } from "./validate.ts";

const KEDA = ["keda.sh/v1alpha1"];
const PREFIX = "kb-kilonova-broker";

interface ActorValues {
  enabled: boolean;
  consumer: { stream: string } | null;
  command?: string[];
  autoscaling?: { enabled?: boolean };
}
interface Values {
  actors: Record<string, ActorValues>;
  runtime: Record<string, string>;
  http: { port: number };
}

function readValues(file: string): Values {
  return parseYaml(Deno.readTextFileSync(`${CHART_DIR}${file}`)) as Values;
}
const defaults = readValues("values.yaml");
const production = readValues("values-production.yaml");
const planned = Object.keys(defaults.actors);

/** --set flags that enable every actor with inline credentials: the full pipeline. */
const FULL = [
  ...planned.map((a) => `actors.${a}.enabled=true`),
  "postgres.url=postgres://kb:pw@pg:5432/kb",
  "hopskotch.brokers=kafka.example.org:9092",
  "hopskotch.username=kb-user",
  "hopskotch.password=hop-secret-value",
  "actors.hopskotch-inbound.env.KB_HOP_IN_URL=kafka://kafka.example.org:9092/igwn.gwalert",
  "keycloak.issuerUrl=https://id.example.org/realms/kb",
  "keycloak.clientSecret=oidc-secret-value",
  "replay.enabled=true",
  "replay.cronJob.enabled=true",
  "networkPolicy.enabled=true",
  "serviceMonitor.enabled=true",
];

function enabledActors(values: Values): string[] {
  return Object.entries(values.actors).filter(([, a]) => a.enabled).map(([n]) => n).sort();
}

function container(d: Manifest) {
  const spec = d.kind === "CronJob" ? d.spec.jobTemplate.spec.template.spec : d.spec.template.spec;
  assert.equal(spec.containers.length, 1, `${d.metadata.name}: one container`);
  return { pod: spec, c: spec.containers[0] };
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: unknown; fieldRef?: unknown };
}

function envOf(c: { env?: EnvVar[] }) {
  return new Map((c.env ?? []).map((e) => [e.name, e]));
}

function assertValid(manifests: Manifest[], what: string) {
  const problems = validateAll(manifests);
  assert.deepEqual(problems, [], `${what}: every manifest validates:\n${problems.join("\n")}`);
}

Deno.test("chart: helm lint --strict passes for the default and the production values", async () => {
  for (const extra of [[], ["-f", `${CHART_DIR}values-production.yaml`]]) {
    const r = await helm(["lint", "--strict", CHART_DIR, ...extra]);
    assert.ok(r.ok, `helm lint ${extra.join(" ")}:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

Deno.test("chart: helm is the pinned, version-stamped v3.22.0", async () => {
  const r = await helm(["version", "--template", "{{.Version}}"]);
  assert.ok(r.ok, r.stderr);
  assert.equal(r.stdout.trim(), "v3.22.0");
});

Deno.test("chart: every rendered manifest validates against the Kubernetes and CRD schemas", async () => {
  const cases: [string, Parameters<typeof render>[0]][] = [
    ["defaults (HPA: no KEDA API)", {}],
    ["defaults on a cluster with KEDA", { apiVersions: KEDA }],
    ["production", { valuesFiles: ["values-production.yaml"], apiVersions: KEDA }],
    ["full pipeline, KEDA", { set: FULL, apiVersions: KEDA }],
    ["full pipeline, HPA", { set: [...FULL, "autoscaling.mode=hpa"] }],
    ["full pipeline, fixed replicas", { set: [...FULL, "autoscaling.mode=none"] }],
  ];
  for (const [what, options] of cases) {
    const manifests = await render(options);
    assert.ok(manifests.length > 3, `${what}: rendered something`);
    assertValid(manifests, what);
  }
});

Deno.test("chart: the validator catches a broken manifest (it can fail)", async () => {
  const [d] = ofKind(await render(), "Deployment");
  const broken = structuredClone(d);
  broken.spec.template.spec.containers[0].ports[0].containerPort = "ops";
  broken.spec.template.spec.containers[0].livenessProbes = {};
  const problems = validateAll([broken]);
  assert.ok(problems.some((p) => /containerPort must be integer/.test(p)), problems.join("\n"));
  assert.ok(problems.some((p) => /livenessProbes: unknown field/.test(p)), problems.join("\n"));
  const so = ofKind(await render({ apiVersions: KEDA }), "ScaledObject")[0];
  const badSo = structuredClone(so);
  badSo.spec.minReplicaCount = "one";
  assert.ok(validateAll([badSo]).some((p) => /minReplicaCount must be integer/.test(p)));
});

Deno.test("chart: one Deployment per enabled actor, from values, with args selecting the actor", async () => {
  for (
    const [values, options] of [
      [defaults, {}],
      [production, { valuesFiles: ["values-production.yaml"], apiVersions: KEDA }],
    ] as const
  ) {
    const deployments = ofKind(await render(options), "Deployment");
    assert.deepEqual(
      deployments.map((d) => d.metadata.labels!["app.kubernetes.io/component"]).sort(),
      enabledActors(values),
    );
  }
  const full = ofKind(await render({ set: FULL }), "Deployment");
  assert.deepEqual(
    full.map((d) => d.metadata.name).sort(),
    planned.map((a) => `${PREFIX}-${a}`).sort(),
  );
  for (const d of full) {
    const name = d.metadata.labels!["app.kubernetes.io/component"];
    const { c } = container(d);
    if (c.command) {
      assert.equal(c.args, undefined, `${name}: its own command, no actor argument`);
    } else {
      assert.deepEqual(c.args, [name], `${name}: image entrypoint + [name]`);
    }
  }
});

Deno.test("chart: actor pods have probes, resources, non-root read-only security and drain time", async () => {
  const manifests = await render({ set: [...FULL, "actors.classifier.env.KB_GRACE_MS=45000"] });
  const port = defaults.http.port;
  for (const d of ofKind(manifests, "Deployment")) {
    const name = d.metadata.name;
    const { pod, c } = container(d);
    const env = envOf(c);
    const ops = c.ports.find((p: { name: string }) => p.name === "ops");
    assert.equal(ops?.containerPort, port, `${name}: ops port`);
    assert.equal(env.get("KB_HTTP_PORT")?.value, String(port), `${name}: KB_HTTP_PORT`);
    assert.equal(env.get("KB_TRANSPORT")?.value, "nats");
    assert.deepEqual(c.livenessProbe.httpGet, { path: "/healthz", port: "ops" }, name);
    assert.deepEqual(c.readinessProbe.httpGet, { path: "/readyz", port: "ops" }, name);
    assert.deepEqual(c.startupProbe.httpGet, { path: "/healthz", port: "ops" }, name);
    for (const k of ["cpu", "memory"]) {
      assert.ok(c.resources.requests[k], `${name}: ${k} request`);
      assert.ok(c.resources.limits[k], `${name}: ${k} limit`);
    }
    assert.equal(pod.securityContext.runAsNonRoot, true, `${name}: runAsNonRoot`);
    assert.ok(pod.securityContext.runAsUser > 0, `${name}: a non-root uid`);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true, `${name}: read-only root`);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
    assert.equal(pod.automountServiceAccountToken, false);
    const tmp = pod.volumes.find((v: { name: string }) => v.name === "tmp");
    assert.ok(tmp?.emptyDir, `${name}: /tmp is an emptyDir`);
    assert.ok(c.volumeMounts.some((m: { mountPath: string }) => m.mountPath === "/tmp"));
    assert.deepEqual(
      env.get("KB_REPLICA_ID")?.valueFrom?.fieldRef,
      { fieldPath: "metadata.name" },
      `${name}: replica id = pod name`,
    );
    const graceMs = Number(
      env.get("KB_GRACE_MS")?.value ?? defaults.runtime.KB_GRACE_MS,
    );
    assert.ok(
      pod.terminationGracePeriodSeconds * 1000 > graceMs + 5000,
      `${name}: terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} exceeds KB_GRACE_MS ${graceMs}`,
    );
  }
  const classifier = find(manifests, "Deployment", `${PREFIX}-classifier`);
  assert.equal(container(classifier).pod.terminationGracePeriodSeconds, 55);
});

Deno.test("chart: every KB_* variable it sets is one the runtime or a secret group defines", async () => {
  // Variables of code that exists, plus those of the planned archiver/TOM (PostgreSQL, Keycloak).
  const known = new Set<string>([
    ...Object.keys(RUNTIME_ENV),
    ...Object.keys(KAFKA_ENV),
    ...Object.keys(OUTBOUND_ENV),
    ...Object.keys(INBOUND_ENV),
    ...Object.keys(OBSERVATORY_ENV),
    ...Object.keys(TOM_ENV),
    "KB_DATABASE_URL",
    "KB_OIDC_ISSUER",
    "KB_OIDC_CLIENT_ID",
    "KB_OIDC_CLIENT_SECRET",
  ]);
  const manifests = await render({ set: [...FULL, "hopskotch.caSecret=hop-ca"] });
  const cm = find(manifests, "ConfigMap", `${PREFIX}-runtime`);
  const names = new Set<string>(Object.keys(cm.data));
  for (const d of [...ofKind(manifests, "Deployment"), ...ofKind(manifests, "Job")]) {
    for (const n of envOf(container(d).c).keys()) names.add(n);
  }
  for (const n of names) {
    assert.ok(known.has(n), `${n} is read by no code: a typo, or a variable that was renamed`);
  }
  const gw = container(find(manifests, "Deployment", `${PREFIX}-hopskotch-inbound`));
  assert.equal(envOf(gw.c).get("KB_KAFKA_SECURITY_PROTOCOL")?.value, "SASL_SSL");
  assert.equal(envOf(gw.c).get("KB_KAFKA_CA_FILE")?.value, "/etc/kb/hopskotch-ca/ca.crt");
  assert.ok(
    gw.pod.volumes.some((v: { secret?: { secretName: string } }) =>
      v.secret?.secretName === "hop-ca"
    ),
  );
});

Deno.test("chart: credentials reach pods from Secrets by reference, never inline", async () => {
  const inline = await render({ set: FULL });
  const secretValues = ["pw@pg", "hop-secret-value", "oidc-secret-value", "kb-user"];
  for (const w of [...ofKind(inline, "Deployment"), ...ofKind(inline, "Job")]) {
    const text = JSON.stringify(w);
    for (const s of secretValues) assert.ok(!text.includes(s), `${w.metadata.name} inlines ${s}`);
  }
  const refs = (m: Manifest) =>
    Object.fromEntries(
      [...envOf(container(m).c)].filter(([, e]) => e.valueFrom?.secretKeyRef)
        .map(([n, e]) => [n, e.valueFrom?.secretKeyRef]),
    );
  assert.deepEqual(refs(find(inline, "Deployment", `${PREFIX}-tom`)), {
    KB_DATABASE_URL: { name: `${PREFIX}-postgres`, key: "url" },
    KB_OIDC_CLIENT_SECRET: { name: `${PREFIX}-keycloak`, key: "client-secret" },
  });
  assert.deepEqual(refs(find(inline, "Job", `${PREFIX}-replay`)), {
    KB_KAFKA_USERNAME: { name: `${PREFIX}-hopskotch`, key: "username" },
    KB_KAFKA_PASSWORD: { name: `${PREFIX}-hopskotch`, key: "password" },
  });
  assert.equal(ofKind(inline, "Secret").length, 3, "the chart made the three Secrets");

  // Production references existing Secrets and creates none.
  const prod = await render({
    valuesFiles: ["values-production.yaml"],
    set: [
      ...planned.map((a) => `actors.${a}.enabled=true`),
      "actors.hopskotch-inbound.env.KB_HOP_IN_URL=kafka://kafka.example.org:9092/t",
    ],
    apiVersions: KEDA,
  });
  assert.equal(ofKind(prod, "Secret").length, 0, "no Secret created from values");
  assert.deepEqual(refs(find(prod, "Deployment", `${PREFIX}-archiver`)), {
    KB_DATABASE_URL: { name: "kb-pg-app", key: "uri" },
  });
  assert.deepEqual(refs(find(prod, "Deployment", `${PREFIX}-hopskotch-outbound`)), {
    KB_KAFKA_USERNAME: { name: "kb-hopskotch", key: "username" },
    KB_KAFKA_PASSWORD: { name: "kb-hopskotch", key: "password" },
  });
});

Deno.test("chart: an actor needing a credential that is not configured is refused, naming it", async () => {
  const err = await renderError({ set: ["actors.archiver.enabled=true"] });
  assert.match(err, /archiver needs PostgreSQL: set postgres.existingSecret/);
  const hop = await renderError({ set: ["actors.hopskotch-outbound.enabled=true"] });
  assert.match(hop, /hopskotch-outbound needs Hopskotch: set hopskotch.brokers/);
  const url = await renderError({
    set: [
      "actors.hopskotch-inbound.enabled=true",
      "hopskotch.brokers=k:9092",
      "hopskotch.existingSecret=hop",
    ],
  });
  assert.match(url, /actors.hopskotch-inbound needs KB_HOP_IN_URL/);
  const minMax = await renderError({
    set: ["actors.echo.autoscaling.minReplicas=5", "actors.echo.autoscaling.maxReplicas=2"],
  });
  assert.match(minMax, /actors.echo.autoscaling: minReplicas \(5\) is above maxReplicas \(2\)/);
});

Deno.test("chart: values.schema.json refuses invalid values with the path of the problem", async () => {
  const cases: [string[], RegExp][] = [
    [["actors.echo.replicas=-1"], /\/actors\/echo\/replicas': minimum/],
    [["autoscaling.mode=sometimes"], /\/autoscaling\/mode': value must be one of/],
    [["actors.echo.replicaz=2"], /additional properties 'replicaz' not allowed/],
    [["nats.url=http://nats:4222"], /\/nats\/url'/],
    [["actors.echo.secrets={vault}"], /\/actors\/echo\/secrets\/0'/],
    [["runtime.LOG_LEVEL=debug"], /LOG_LEVEL/],
  ];
  for (const [set, want] of cases) assert.match(await renderError({ set }), want, set.join(","));
});

Deno.test("chart: KEDA ScaledObjects scale each actor on its durable consumer's lag, from values", async () => {
  const manifests = await render({
    set: [
      ...FULL,
      "actors.echo.autoscaling.minReplicas=2",
      "actors.echo.autoscaling.maxReplicas=7",
      "actors.echo.autoscaling.lagThreshold=42",
      "actors.archiver.autoscaling.cpuTargetUtilization=0",
      "nats.monitoringEndpoint=nats-headless.js.svc:8222",
    ],
    apiVersions: KEDA,
  });
  assert.equal(ofKind(manifests, "HorizontalPodAutoscaler").length, 0, "KEDA makes its own HPAs");
  const scaled = ofKind(manifests, "ScaledObject");
  // Every actor but those whose values turn autoscaling off (the classifier runs one replica).
  const autoscaled = planned.filter((a) => defaults.actors[a].autoscaling?.enabled !== false);
  assert.ok(autoscaled.length < planned.length && autoscaled.length >= planned.length - 1);
  assert.equal(scaled.length, autoscaled.length);
  for (const so of scaled) {
    const actor = so.metadata.labels!["app.kubernetes.io/component"];
    const values = defaults.actors[actor];
    const d = find(manifests, "Deployment", so.spec.scaleTargetRef.name);
    assert.equal(d.spec.replicas, undefined, `${actor}: KEDA owns replicas`);
    const lag = so.spec.triggers.find((t: { type: string }) => t.type === "nats-jetstream");
    if (values.consumer) {
      assert.ok(lag, `${actor}: a nats-jetstream trigger`);
      assert.equal(lag.metadata.stream, values.consumer.stream);
      assert.equal(lag.metadata.consumer, CONSUMERS.ofActor(actor));
      assert.equal(lag.metadata.natsServerMonitoringEndpoint, "nats-headless.js.svc:8222");
      assert.equal(lag.metadata.account, "$G");
    } else {
      assert.equal(lag, undefined, `${actor} consumes no stream`);
    }
    // KEDA's admission rule: a fallback only with AverageValue triggers, never next to CPU.
    if (so.spec.fallback) {
      for (const t of so.spec.triggers) {
        assert.notEqual(t.type, "cpu", `${actor}: fallback next to a CPU trigger`);
        assert.equal(t.metricType, "AverageValue", `${actor}: fallback needs AverageValue`);
      }
    }
  }
  const echo = find(manifests, "ScaledObject", `${PREFIX}-echo`);
  assert.equal(echo.spec.minReplicaCount, 2);
  assert.equal(echo.spec.maxReplicaCount, 7);
  assert.equal(echo.spec.triggers[0].metadata.lagThreshold, "42");
  assert.equal(echo.spec.triggers[1].type, "cpu");
  const archiver = find(manifests, "ScaledObject", `${PREFIX}-archiver`);
  assert.deepEqual(archiver.spec.triggers.map((t: { type: string }) => t.type), [
    "nats-jetstream",
  ]);
  assert.deepEqual(archiver.spec.fallback, { failureThreshold: 3, replicas: 1 });
});

Deno.test("chart: without KEDA an HPA on CPU; with autoscaling off the replicas follow values", async () => {
  const hpa = await render({
    set: [
      "actors.echo.autoscaling.maxReplicas=6",
      "actors.echo.autoscaling.cpuTargetUtilization=60",
    ],
  });
  assert.equal(ofKind(hpa, "ScaledObject").length, 0);
  const h = find(hpa, "HorizontalPodAutoscaler", `${PREFIX}-echo`);
  assert.equal(h.spec.maxReplicas, 6);
  assert.equal(h.spec.metrics[0].resource.target.averageUtilization, 60);
  assert.equal(h.spec.scaleTargetRef.name, `${PREFIX}-echo`);

  const fixed = await render({ set: ["autoscaling.mode=none", "actors.echo.replicas=3"] });
  assert.equal(ofKind(fixed, "HorizontalPodAutoscaler").length, 0);
  assert.equal(find(fixed, "Deployment", `${PREFIX}-echo`).spec.replicas, 3);
  const off = await render({
    apiVersions: KEDA,
    set: ["actors.echo.autoscaling.enabled=false", "actors.echo.replicas=2"],
  });
  assert.equal(ofKind(off, "ScaledObject").length, 0);
  assert.equal(find(off, "Deployment", `${PREFIX}-echo`).spec.replicas, 2);
});

Deno.test("chart: Services, PodDisruptionBudgets, ServiceMonitor and NetworkPolicies per actor", async () => {
  const manifests = await render({ set: FULL });
  for (const a of planned) {
    const d = find(manifests, "Deployment", `${PREFIX}-${a}`);
    const selector = d.spec.selector.matchLabels;
    const svc = find(manifests, "Service", `${PREFIX}-${a}`);
    assert.deepEqual(svc.spec.selector, selector, `${a}: Service selects the actor`);
    const ports = svc.spec.ports.map((p: { name: string }) => p.name);
    const api = (defaults.actors[a] as { service?: { enabled: boolean } }).service?.enabled;
    assert.deepEqual(ports, api ? ["ops", "http"] : ["ops"], `${a}: Service ports`);
    const pdb = find(manifests, "PodDisruptionBudget", `${PREFIX}-${a}`);
    assert.deepEqual(pdb.spec.selector.matchLabels, selector);
    assert.equal(pdb.spec.maxUnavailable, 1);
    const np = find(manifests, "NetworkPolicy", `${PREFIX}-${a}`);
    assert.deepEqual(np.spec.podSelector.matchLabels, selector);
    const egressPorts = np.spec.egress.flatMap((r: { ports: { port: number }[] }) =>
      r.ports.map((p) => p.port)
    );
    assert.ok(egressPorts.includes(53) && egressPorts.includes(4222), `${a}: DNS and NATS`);
  }
  const sm = ofKind(manifests, "ServiceMonitor");
  assert.equal(sm.length, 1);
  for (const [k, v] of Object.entries(sm[0].spec.selector.matchLabels)) {
    for (const svc of ofKind(manifests, "Service")) assert.equal(svc.metadata.labels![k], v);
  }
  assert.deepEqual(sm[0].spec.endpoints[0], { port: "ops", path: "/metrics", interval: "30s" });
});

Deno.test("chart: the replay is a hook Job (and an optional CronJob) with the actors' security", async () => {
  const manifests = await render({ set: [...FULL, "replay.args={--speed=10}"] });
  const job = find(manifests, "Job", `${PREFIX}-replay`);
  assert.equal(job.metadata.annotations!["helm.sh/hook"], "post-install,post-upgrade");
  const { pod, c } = container(job);
  assert.deepEqual(c.command, ["deno", "task", "replay"]);
  assert.deepEqual(c.args, ["--speed=10"]);
  assert.equal(pod.restartPolicy, "Never");
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  const cron = find(manifests, "CronJob", `${PREFIX}-replay-drill`);
  assert.equal(cron.spec.schedule, "0 3 * * 1");
  assert.equal(cron.spec.concurrencyPolicy, "Forbid");
  assert.deepEqual(container(cron).c.command, ["deno", "task", "replay"]);
  const none = await render();
  assert.equal(ofKind(none, "Job").length + ofKind(none, "CronJob").length, 0);
});

Deno.test("chart: values agree with the actor registry and contracts/names.ts", () => {
  const streamNames = new Set<string>(Object.values(STREAMS).map((s) => s.name));
  for (const [name, def] of Object.entries(ACTORS)) {
    const entry = defaults.actors[name];
    assert.ok(
      entry,
      `actor "${name}" is registered but has no entry under actors: in ` +
        "deploy/helm/kilonova-broker/values.yaml; add one so it is deployable",
    );
    const stream = streamForSubject(def.input.subject)?.name;
    assert.equal(
      entry.consumer?.stream,
      stream,
      `actors.${name}.consumer.stream must be ${stream}, the stream of its input ${def.input.subject}`,
    );
  }
  for (const [name, a] of Object.entries(defaults.actors)) {
    if (a.consumer) {
      assert.ok(streamNames.has(a.consumer.stream), `${name}: unknown stream ${a.consumer.stream}`);
    }
  }
  const files: [string, Values][] = [
    ["values.yaml", defaults],
    ["values-production.yaml", production],
  ];
  for (const [file, values] of files) {
    for (const name of enabledActors(values)) {
      assertRunnable(name, defaults.actors[name], file);
    }
  }
  for (const [name, a] of Object.entries(defaults.actors)) {
    if (a.command?.length) assertRunnable(name, a, "values.yaml");
  }
});

/** An enabled actor runs: a registry actor, or a command whose entry file the image caches. */
function assertRunnable(name: string, a: ActorValues, file: string) {
  if (!a.command?.length) {
    assert.ok(
      name in ACTORS,
      `${file} enables "${name}", which is not in actors/registry.ts yet: keep it disabled until its code lands`,
    );
    return;
  }
  const entry = a.command.find((x) => x.endsWith(".ts"));
  assert.ok(entry, `actors.${name}.command names no .ts entry file`);
  assert.ok(Deno.statSync(new URL(`../../${entry}`, import.meta.url)).isFile, `${entry} exists`);
  assert.ok(
    containerEntrypoints().includes(entry),
    `${entry} (actors.${name}.command) must be pre-cached by deploy/container/Containerfile`,
  );
}
