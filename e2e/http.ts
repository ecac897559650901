/**
 * Raw HTTP/1.1 for the abuse suite: requests written byte for byte on a TCP
 * connection (fetch would normalise `..` in paths and refuse odd headers), and
 * slow clients that send their headers one byte at a time.
 *
 * @module
 */
import { sleep } from "../actors/runtime/testing.ts";

/** A response read from a raw connection. */
export interface RawResponse {
  /** Status code; 0 when the server closed the connection without answering. */
  readonly status: number;
  readonly head: string;
  readonly body: string;
}

/** Writes `request` (bytes as given) to 127.0.0.1:`port` and reads until the server closes. */
export async function rawRequest(
  port: number,
  request: string | Uint8Array,
  timeoutMs = 15_000,
): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, timeoutMs);
  const chunks: Uint8Array[] = [];
  try {
    const data = typeof request === "string" ? new TextEncoder().encode(request) : request;
    try {
      for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
    } catch { /* the server may answer and close before reading everything */ }
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch {
        break;
      }
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
  const text = new TextDecoder().decode(concat(chunks));
  const end = text.indexOf("\r\n\r\n");
  const head = end >= 0 ? text.slice(0, end) : text;
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  return { status: m ? Number(m[1]) : 0, head, body: end >= 0 ? text.slice(end + 4) : "" };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** A GET for `path` exactly as given, closing the connection after the answer. */
export function rawGet(port: number, path: string, headers: Record<string, string> = {}) {
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return rawRequest(
    port,
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${extra}Connection: close\r\n\r\n`,
  );
}

/** A client that sends a request's header bytes one at a time, `everyMs` apart. */
export interface SlowClient {
  /** Bytes sent so far. */
  sent(): number;
  /** Stops sending and closes the connection. */
  close(): void;
  /** Resolves when the client stopped (closed by us, by the server, or done). */
  readonly done: Promise<void>;
}

/** Opens a slowloris-style connection that never finishes its headers within `bytes` bytes. */
export async function slowClient(
  port: number,
  everyMs: number,
  bytes = 10_000,
): Promise<SlowClient> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let closed = false;
  let sent = 0;
  const enc = new TextEncoder();
  const start = enc.encode(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: `);
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch { /* closed */ }
  };
  const done = (async () => {
    try {
      for (let i = 0; i < start.length + bytes && !closed; i++) {
        await conn.write(i < start.length ? start.subarray(i, i + 1) : enc.encode("a"));
        sent++;
        await sleep(everyMs);
      }
    } catch {
      /* the server closed it: fine */
    } finally {
      close();
    }
  })();
  return { sent: () => sent, close, done };
}
