/**
 * Runs the project's helm (built by `bash deploy/local/helm.sh install`) on the
 * chart and parses what it renders. Used by the chart tests and the README
 * generator.
 *
 * @module
 */
import { parseAllDocuments } from "yaml";
import type { Manifest } from "./validate.ts";

export type { Manifest };

/** The repository root. */
export const ROOT = new URL("../../", import.meta.url);
/** The chart folder. */
export const CHART_DIR = new URL("kilonova-broker/", import.meta.url).pathname;

/** Path of the helm binary: $KB_HELM, else .tools/bin/helm; fails when missing. */
export function helmBin(): string {
  const bin = Deno.env.get("KB_HELM") || new URL(".tools/bin/helm", ROOT).pathname;
  try {
    Deno.statSync(bin);
  } catch {
    throw new Error(
      `helm not found at ${bin}: run \`bash deploy/local/helm.sh install\` ` +
        "(the test command does it when `helm` is in KB_TEST_SERVICES)",
    );
  }
  return bin;
}

/** Result of a helm run. */
export interface HelmResult {
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs helm with `args`. */
export async function helm(args: string[]): Promise<HelmResult> {
  const out = await new Deno.Command(helmBin(), {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { HELM_CACHE_HOME: "/tmp/kb-helm-cache", HELM_CONFIG_HOME: "/tmp/kb-helm-config" },
  }).output();
  const dec = new TextDecoder();
  return { ok: out.success, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Options of {@link render}. */
export interface RenderOptions {
  /** Values files, relative to the chart folder or absolute. */
  readonly valuesFiles?: readonly string[];
  /** `--set` expressions. */
  readonly set?: readonly string[];
  /** API versions the fake cluster serves (`--api-versions`), e.g. keda.sh/v1alpha1. */
  readonly apiVersions?: readonly string[];
  readonly releaseName?: string;
  readonly namespace?: string;
}

function templateArgs(o: RenderOptions): string[] {
  const args = ["template", o.releaseName ?? "kb", CHART_DIR, "--namespace", o.namespace ?? "kb"];
  for (const f of o.valuesFiles ?? []) {
    args.push("-f", f.startsWith("/") ? f : `${CHART_DIR}${f}`);
  }
  for (const s of o.set ?? []) args.push("--set", s);
  for (const a of o.apiVersions ?? []) args.push("--api-versions", a);
  return args;
}

/** Renders the chart; throws with helm's message when it refuses. */
export async function render(o: RenderOptions = {}): Promise<Manifest[]> {
  const r = await helm(templateArgs(o));
  if (!r.ok) throw new Error(`helm ${templateArgs(o).join(" ")} failed:\n${r.stderr}`);
  return parseManifests(r.stdout);
}

/** Renders the chart expecting helm to refuse; returns its error output. */
export async function renderError(o: RenderOptions): Promise<string> {
  const r = await helm(templateArgs(o));
  if (r.ok) throw new Error(`helm ${templateArgs(o).join(" ")} rendered, expected a refusal`);
  return r.stderr;
}

/** Parses a multi-document YAML stream into manifests (empty documents dropped). */
export function parseManifests(text: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`invalid YAML: ${doc.errors.map(String).join("; ")}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) out.push(value as Manifest);
  }
  return out;
}

/** The manifests of one kind. */
export function ofKind(manifests: Manifest[], kind: string): Manifest[] {
  return manifests.filter((m) => m.kind === kind);
}

/** The one manifest of a kind and name; throws when absent. */
export function find(manifests: Manifest[], kind: string, name: string): Manifest {
  const m = manifests.find((x) => x.kind === kind && x.metadata.name === name);
  if (!m) {
    throw new Error(
      `no ${kind} ${name}; rendered: ${
        manifests.map((x) => `${x.kind}/${x.metadata.name}`).join(", ")
      }`,
    );
  }
  return m;
}
