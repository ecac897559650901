/**
 * `deno task nats-auth`: generates NATS identities and permissions.
 *
 *   deno task nats-auth local <dir>      seeds in <dir> (created when missing) and
 *                                        <dir>/auth.conf for nats-server (deploy/local/nats.sh)
 *   deno task nats-auth chart            rewrites the Helm chart's files/nats-permissions.json
 *   deno task nats-auth keys <dir>       seeds for a deployment in <dir>; prints the public
 *                                        keys as Helm values (`nats.auth.publicKeys`)
 *   deno task nats-auth show             prints the permissions (JSON)
 *
 * @module
 */
import { natsIdentities } from "./permissions.ts";
import { CHART_PERMISSIONS_FILE, renderPermissionsJson, renderServerAuth } from "./render.ts";
import { ensureSeeds } from "./keys.ts";

const USAGE = "usage: deno task nats-auth local <dir> | chart | keys <dir> | show";

if (import.meta.main) {
  const [verb, dir] = Deno.args;
  const identities = natsIdentities();
  const names = identities.map((i) => i.name);
  const root = new URL("../../", import.meta.url).pathname;
  switch (verb) {
    case "local": {
      if (!dir) throw new Error(USAGE);
      const keys = await ensureSeeds(dir, names);
      const tmp = `${dir}/auth.conf.tmp.${Deno.pid}`;
      await Deno.writeTextFile(tmp, renderServerAuth(identities, keys));
      await Deno.rename(tmp, `${dir}/auth.conf`);
      console.error(`nats-auth: ${names.length} identities in ${dir} (auth.conf, <identity>.nk)`);
      break;
    }
    case "chart":
      await Deno.writeTextFile(root + CHART_PERMISSIONS_FILE, renderPermissionsJson(identities));
      console.error(`nats-auth: wrote ${CHART_PERMISSIONS_FILE}`);
      break;
    case "keys": {
      if (!dir) throw new Error(USAGE);
      const keys = await ensureSeeds(dir, names);
      console.log("nats:\n  auth:\n    publicKeys:");
      for (const n of names) console.log(`      ${n}: ${keys[n]}`);
      break;
    }
    case "show":
      console.log(renderPermissionsJson(identities));
      break;
    default:
      console.error(USAGE);
      Deno.exit(2);
  }
}
