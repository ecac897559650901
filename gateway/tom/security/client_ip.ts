/**
 * The client's address: the socket peer, or — behind `trustHops` reverse
 * proxies — the `X-Forwarded-For` entry that many from the right (entries
 * further left are the client's own claims and are not trusted).
 *
 * @module
 */
import type { Context } from "hono";

/** The address of the caller of `c` ("unknown" when the server gave none). */
export function clientIp(c: Context, trustHops = 0): string {
  const peer = (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr
    ?.hostname ?? "unknown";
  if (trustHops <= 0) return peer;
  const chain = (c.req.header("x-forwarded-for") ?? "").split(",").map((s) => s.trim())
    .filter(Boolean);
  // The last proxy appended the address it saw; trustHops proxies → the
  // trustHops-th entry from the right is what the outermost trusted one saw.
  return chain.length >= trustHops ? chain[chain.length - trustHops] : peer;
}

/** True when the request came over TLS (directly, or per a trusted proxy's X-Forwarded-Proto). */
export function viaTls(c: Context, trustHops = 0): boolean {
  // The request's URL is absolute and normalised (lower-case scheme): no parse needed.
  if (c.req.url.startsWith("https:")) return true;
  if (trustHops <= 0) return false;
  const proto = (c.req.header("x-forwarded-proto") ?? "").split(",").map((s) => s.trim());
  return proto[proto.length - 1]?.toLowerCase() === "https";
}
