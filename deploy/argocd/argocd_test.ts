/**
 * The ArgoCD definitions: every file validates against the ArgoCD CRD schemas
 * (from @kubernetes-models/argo-cd); the app of apps points at the
 * environment folder; sync waves put NATS before the broker before the TOM;
 * the chart Applications point at this repository's chart and value files,
 * which render; the official NATS chart is pinned.
 */
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { ACTORS } from "../../actors/registry.ts";
import { render } from "../helm/helm.ts";
import { type Manifest, validateAll } from "../helm/validate.ts";

const HERE = new URL("./", import.meta.url);
const ROOT = new URL("../../", import.meta.url);

function load(rel: string): Manifest {
  return parseYaml(Deno.readTextFileSync(new URL(rel, HERE))) as Manifest;
}

function yamlFiles(dir: URL): string[] {
  return [...Deno.readDirSync(dir)].filter((e) => e.isFile && e.name.endsWith(".yaml"))
    .map((e) => e.name).sort();
}

const envDir = "environments/production/";
const apps = yamlFiles(new URL(envDir, HERE)).map((f) => load(envDir + f));
const wave = (m: Manifest) => Number(m.metadata.annotations?.["argocd.argoproj.io/sync-wave"]);
const byName = (suffix: string) => apps.find((a) => a.metadata.name.endsWith(suffix))!;

Deno.test("argocd: every file validates against the ArgoCD CRD schemas", () => {
  const all = [load("project.yaml"), load("root-production.yaml"), ...apps];
  assert.equal(all.length, 5);
  assert.deepEqual(validateAll(all), []);
  const broken = structuredClone(byName("broker"));
  broken.spec.destination = "kilonova";
  assert.ok(validateAll([broken]).length > 0, "the validator rejects a bad Application");
});

Deno.test("argocd: the app of apps installs NATS, then the broker, then the TOM", () => {
  const root = load("root-production.yaml");
  assert.equal(root.spec.source.path, `deploy/argocd/${envDir}`.replace(/\/$/, ""));
  assert.ok(Deno.statSync(new URL(root.spec.source.path, ROOT)).isDirectory);
  const nats = byName("-nats");
  const broker = byName("-broker");
  const tom = byName("-tom");
  assert.ok(wave(nats) < wave(broker) && wave(broker) < wave(tom), "waves: nats < broker < tom");
  const project = load("project.yaml").metadata.name;
  for (const a of [root, ...apps]) assert.equal(a.spec.project, project, a.metadata.name);
  for (const a of apps) {
    assert.ok(
      load("project.yaml").spec.sourceRepos.includes(a.spec.source.repoURL),
      `${a.metadata.name}: its repository is allowed by the project`,
    );
  }
});

Deno.test("argocd: NATS comes from the official chart, pinned, with JetStream on a cluster", () => {
  const nats = byName("-nats");
  assert.equal(nats.spec.source.chart, "nats");
  assert.match(nats.spec.source.targetRevision, /^\d+\.\d+\.\d+$/);
  const v = nats.spec.source.helm.valuesObject;
  assert.equal(v.config.jetstream.enabled, true);
  assert.equal(v.config.cluster.enabled, true);
  assert.ok(v.config.cluster.replicas >= 3, "JetStream replicas 3 need three nodes");
  assert.equal(nats.spec.destination.namespace, "nats");
});

Deno.test("argocd: the broker and TOM Applications render with their values and enable only existing actors", async () => {
  for (const app of [byName("-broker"), byName("-tom")]) {
    const src = app.spec.source;
    assert.equal(src.path, "deploy/helm/kilonova-broker");
    const valuesObject = src.helm.valuesObject ?? {};
    for (const [name, a] of Object.entries(valuesObject.actors ?? {})) {
      if ((a as { enabled: boolean }).enabled) {
        assert.ok(name in ACTORS, `${app.metadata.name} enables ${name}, which has no code yet`);
      }
    }
    const tmp = await Deno.makeTempFile({ suffix: ".json" });
    try {
      Deno.writeTextFileSync(tmp, JSON.stringify(valuesObject));
      const manifests = await render({
        releaseName: src.helm.releaseName,
        namespace: app.spec.destination.namespace,
        valuesFiles: [...src.helm.valueFiles, tmp],
        apiVersions: ["keda.sh/v1alpha1"],
      });
      assert.deepEqual(validateAll(manifests), [], app.metadata.name);
    } finally {
      await Deno.remove(tmp);
    }
  }
  const tomActors = byName("-tom").spec.source.helm.valuesObject.actors;
  const enabledInTom = Object.entries(tomActors).filter(([, a]) =>
    (a as { enabled: boolean }).enabled
  );
  assert.ok(enabledInTom.every(([n]) => n === "tom"), "the TOM release runs the TOM only");
});
