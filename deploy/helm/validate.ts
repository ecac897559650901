/**
 * Offline validation of Kubernetes manifests against the API schemas: the
 * built-in kinds with `kubernetes-models` (generated from the Kubernetes
 * OpenAPI schemas), KEDA, ArgoCD and Prometheus Operator resources with the
 * `@kubernetes-models/*` packages generated from their CRD schemas. Each
 * model's `validate()` runs the schema (types, required fields, enums, formats).
 *
 * The upstream schemas allow unknown fields (the API server prunes or rejects
 * them), so {@link validateManifest} also rejects fields a schema does not know
 * at the places where a typo is most likely: see {@link KNOWN_POD_SPEC_FIELDS}.
 *
 * @module
 */
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { Job } from "kubernetes-models/batch/v1/Job";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { ScaledObject } from "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject";
import { Application } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import { AppProject } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject";
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";

/** A parsed manifest: at least apiVersion, kind and metadata.name. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // deno-lint-ignore no-explicit-any
  [key: string]: any;
}

interface Model {
  validate(): void;
}
type ModelClass = new (data: unknown) => Model;

/** Every kind the chart and the ArgoCD files may contain, by `apiVersion/kind`. */
export const MODELS: Record<string, ModelClass> = {
  "v1/ConfigMap": ConfigMap as unknown as ModelClass,
  "v1/Secret": Secret as unknown as ModelClass,
  "v1/Service": Service as unknown as ModelClass,
  "v1/ServiceAccount": ServiceAccount as unknown as ModelClass,
  "v1/Namespace": Namespace as unknown as ModelClass,
  "apps/v1/Deployment": Deployment as unknown as ModelClass,
  "batch/v1/Job": Job as unknown as ModelClass,
  "batch/v1/CronJob": CronJob as unknown as ModelClass,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget as unknown as ModelClass,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy as unknown as ModelClass,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler as unknown as ModelClass,
  "keda.sh/v1alpha1/ScaledObject": ScaledObject as unknown as ModelClass,
  "argoproj.io/v1alpha1/Application": Application as unknown as ModelClass,
  "argoproj.io/v1alpha1/AppProject": AppProject as unknown as ModelClass,
  "monitoring.coreos.com/v1/ServiceMonitor": ServiceMonitor as unknown as ModelClass,
};

/** Fields of a PodSpec and a Container this project may set (a subset of the API). */
export const KNOWN_POD_SPEC_FIELDS = {
  pod: new Set([
    "serviceAccountName",
    "automountServiceAccountToken",
    "imagePullSecrets",
    "securityContext",
    "terminationGracePeriodSeconds",
    "containers",
    "initContainers",
    "volumes",
    "nodeSelector",
    "tolerations",
    "affinity",
    "topologySpreadConstraints",
    "restartPolicy",
    "priorityClassName",
  ]),
  container: new Set([
    "name",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "ports",
    "env",
    "envFrom",
    "startupProbe",
    "livenessProbe",
    "readinessProbe",
    "resources",
    "securityContext",
    "volumeMounts",
    "lifecycle",
  ]),
};

/** Pod template specs inside a workload, with where they are. */
export function podSpecsOf(m: Manifest): { path: string; spec: Record<string, unknown> }[] {
  if (m.kind === "Deployment" || m.kind === "Job") {
    return [{ path: "spec.template.spec", spec: m.spec?.template?.spec ?? {} }];
  }
  if (m.kind === "CronJob") {
    return [{
      path: "spec.jobTemplate.spec.template.spec",
      spec: m.spec?.jobTemplate?.spec?.template?.spec ?? {},
    }];
  }
  return [];
}

function unknownPodFields(m: Manifest): string[] {
  const problems: string[] = [];
  for (const { path, spec } of podSpecsOf(m)) {
    for (const k of Object.keys(spec)) {
      if (!KNOWN_POD_SPEC_FIELDS.pod.has(k)) problems.push(`${path}.${k}: unknown field`);
    }
    const containers = (spec.containers ?? []) as Record<string, unknown>[];
    containers.forEach((c, i) => {
      for (const k of Object.keys(c)) {
        if (!KNOWN_POD_SPEC_FIELDS.container.has(k)) {
          problems.push(`${path}.containers[${i}].${k}: unknown field`);
        }
      }
    });
  }
  return problems;
}

/**
 * Validates one manifest; returns the problems (empty when valid). A kind not
 * in {@link MODELS} is a problem too: every kind must be validated.
 */
export function validateManifest(m: Manifest): string[] {
  const id = `${m?.apiVersion}/${m?.kind}`;
  const model = MODELS[id];
  if (!model) {
    return [`${id} ${m?.metadata?.name}: no schema known for this kind (add it to MODELS)`];
  }
  const problems: string[] = [];
  try {
    new model(m).validate();
  } catch (err) {
    problems.push(...String((err as Error).message).split(", "));
  }
  problems.push(...unknownPodFields(m));
  return problems.map((p) => `${m.kind} ${m.metadata?.name}: ${p}`);
}

/** Validates every manifest; returns all problems. */
export function validateAll(manifests: Manifest[]): string[] {
  return manifests.flatMap(validateManifest);
}
