/**
 * The local Kubernetes control plane's TypeScript face: kubectl and helm
 * against it (scripts: `bash deploy/local/k8s/cluster.sh start|stop|status|env`,
 * `bash deploy/local/k8s/build.sh`; tests: `./kb task test:k8s`).
 *
 * @module
 */
export {
  type DeploymentJson,
  helmK8s,
  helmOk,
  kubeconfig,
  kubectl,
  kubectlJson,
  kubectlOk,
  rolledOut,
  type RunResult,
} from "./kube.ts";
