/**
 * kubectl and helm against the local control plane that
 * `bash deploy/local/k8s/cluster.sh start` runs (its `env` verb exports
 * KB_K8S_KUBECONFIG and KB_KUBECTL). Used by the control-plane chart test.
 *
 * @module
 */
import { helmBin } from "../../helm/helm.ts";

/** Output of one command. */
export interface RunResult {
  readonly ok: boolean;
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function required(name: string): string {
  const v = Deno.env.get(name);
  if (!v) {
    throw new Error(
      `${name} is not set: run \`./kb task test:k8s\`, which builds and starts the local ` +
        "control plane, or `bash deploy/local/k8s/cluster.sh start` and " +
        '`eval "$(bash deploy/local/k8s/cluster.sh env)"`',
    );
  }
  return v;
}

/** Path of the admin kubeconfig of the local control plane. */
export function kubeconfig(): string {
  return required("KB_K8S_KUBECONFIG");
}

async function run(
  bin: string,
  args: readonly string[],
  input?: string,
  env: Record<string, string> = {},
): Promise<RunResult> {
  const child = new Deno.Command(bin, {
    args: [...args],
    stdin: input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
  if (input !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(input));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    ok: out.success,
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** Runs kubectl as the cluster admin; `input` goes to its standard input. */
export function kubectl(args: readonly string[], input?: string): Promise<RunResult> {
  return run(required("KB_KUBECTL"), ["--kubeconfig", kubeconfig(), ...args], input);
}

/** Runs kubectl and returns its standard output; throws with its error output on failure. */
export async function kubectlOk(args: readonly string[], input?: string): Promise<string> {
  const r = await kubectl(args, input);
  if (!r.ok) throw new Error(`kubectl ${args.join(" ")} failed (exit ${r.code}):\n${r.stderr}`);
  return r.stdout;
}

/** Runs kubectl with `-o json` and parses the answer. */
export async function kubectlJson<T = Record<string, unknown>>(
  args: readonly string[],
): Promise<T> {
  return JSON.parse(await kubectlOk([...args, "-o", "json"])) as T;
}

/** Runs the project's helm against the local control plane. */
export function helmK8s(args: readonly string[]): Promise<RunResult> {
  return run(helmBin(), args, undefined, {
    KUBECONFIG: kubeconfig(),
    HELM_CACHE_HOME: "/tmp/kb-helm-k8s-cache",
    HELM_CONFIG_HOME: "/tmp/kb-helm-k8s-config",
    HELM_DATA_HOME: "/tmp/kb-helm-k8s-data",
  });
}

/** Runs helm and throws with its error output when it fails. */
export async function helmOk(args: readonly string[]): Promise<string> {
  const r = await helmK8s(args);
  if (!r.ok) throw new Error(`helm ${args.join(" ")} failed (exit ${r.code}):\n${r.stderr}`);
  return r.stdout;
}

/** The parts of a Deployment the test reads. */
export interface DeploymentJson {
  metadata: {
    name: string;
    generation: number;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec: {
    replicas: number;
    template: {
      metadata: { annotations?: Record<string, string> };
      spec: {
        containers: {
          env?: { name: string; value?: string; valueFrom?: Record<string, unknown> }[];
        }[];
      };
    };
  };
  status: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    updatedReplicas?: number;
    conditions?: { type: string; status: string; reason?: string }[];
  };
}

/** True when the Deployment has rolled out its latest spec with `want` replicas, all available. */
export function rolledOut(d: DeploymentJson, want = d.spec.replicas): boolean {
  const s = d.status;
  return (s.observedGeneration ?? 0) >= d.metadata.generation &&
    d.spec.replicas === want &&
    (s.replicas ?? 0) === want &&
    (s.updatedReplicas ?? 0) === want &&
    (s.availableReplicas ?? 0) === want &&
    (s.conditions ?? []).some((c) => c.type === "Available" && c.status === "True");
}
