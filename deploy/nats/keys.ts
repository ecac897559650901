/**
 * nkey seeds of the identities in a credentials directory: one `<identity>.nk`
 * file each (mode 0600), created when missing, never overwritten (delete one
 * to rotate it). nkeys come from nats.js (`@nats-io/nats-core`'s `nkeys`).
 *
 * @module
 */
import { nkeys } from "@nats-io/nats-core";
import { seedFileName } from "./identities.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The public user nkey of a seed file's seed. */
export async function publicKeyOfSeedFile(path: string): Promise<string> {
  const seed = (await Deno.readTextFile(path)).trim();
  try {
    return nkeys.fromSeed(enc.encode(seed)).getPublicKey();
  } catch (err) {
    throw new Error(
      `${path} does not hold a NATS user nkey seed (SU...): ${(err as Error).message}. ` +
        `Delete it to have a new one generated.`,
    );
  }
}

/**
 * Makes sure `dir` holds a seed for each identity; returns their public keys.
 * New seeds are written with mode 0600 (write to a temporary name, then rename).
 */
export async function ensureSeeds(
  dir: string,
  identities: readonly string[],
): Promise<Record<string, string>> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const out: Record<string, string> = {};
  for (const name of identities) {
    const path = `${dir}/${seedFileName(name)}`;
    try {
      out[name] = await publicKeyOfSeedFile(path);
      continue;
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err;
    }
    const kp = nkeys.createUser();
    const tmp = `${path}.tmp.${Deno.pid}`;
    await Deno.writeTextFile(tmp, dec.decode(kp.getSeed()) + "\n", { mode: 0o600 });
    await Deno.chmod(tmp, 0o600);
    await Deno.rename(tmp, path);
    out[name] = kp.getPublicKey();
  }
  return out;
}
