/**
 * Evaluation of JetStream fast-ingest batch publishing (ADR-50, nats-server
 * 2.14+) for the inbound gateway, against the runtime's pipelined publisher
 * (`PipelinedPublisher.send`, what the gateway uses): 1 KB messages, each with
 * its own `Nats-Msg-Id` (the gateway's exactly-once rests on it), sent in chunks
 * of `KB_FB_CHUNK` (default 500, the gateway's chunk) with `KB_FB_IN_FLIGHT`
 * (default 4) chunks in flight, into a nats-server of its own (`KB_FB_DEDUP=0`:
 * without `Nats-Msg-Id`, to see what deduplication costs). Per mode it
 * prints the rate, this process' and the server's CPU per message (from
 * /proc), what the stream holds, and that sending the first chunk again stores
 * nothing (deduplication inside fast batches). Modes alternate
 * (`KB_FB_MODES`, default `pipelined,fast` three times).
 *
 * A fast batch here is one chunk: the first message starts it (reply subject
 * `<inbox>.<id>.<flow>.fail.1.0.$FI`) and its flow acknowledgement is awaited,
 * the middle ones append (`….<n>.1.$FI`) with at most `KB_FB_OUTSTANDING`
 * (default 2) flow windows unacknowledged, the last commits (`….<n>.2.$FI`) and
 * its PubAck (`"batch"`, `"count"`) ends the batch. Not used by the gateway:
 * docs/hopskotch.md ("JetStream batch publishing") has the figures and why.
 *
 *   ./kb run -A bench/jetstream_fast_batch.ts
 *
 * @module
 */
import { connect } from "@nats-io/transport-node";
import { createInbox, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager, type StreamConfig } from "@nats-io/jetstream";
import { PipelinedPublisher } from "../actors/runtime/nats_publisher.ts";
import { procCpuTimesSync } from "./proc.ts";

const N = Number(Deno.env.get("KB_FB_MESSAGES") ?? 100_000);
const CHUNK = Number(Deno.env.get("KB_FB_CHUNK") ?? 500);
const IN_FLIGHT = Number(Deno.env.get("KB_FB_IN_FLIGHT") ?? 4);
const FLOW = Number(Deno.env.get("KB_FB_FLOW") ?? 100);
const OUTSTANDING = Number(Deno.env.get("KB_FB_OUTSTANDING") ?? 2);
/** `0`: no `Nats-Msg-Id` (to see what deduplication costs; the gateway always sets it). */
const DEDUP = Deno.env.get("KB_FB_DEDUP") !== "0";
const MODES = (Deno.env.get("KB_FB_MODES") ?? "pipelined,fast,pipelined,fast,pipelined,fast")
  .split(",").map((m) => m.trim());
const enc = new TextEncoder();
const dec = new TextDecoder();

/** User + system CPU seconds of a process (`self` or a pid). */
function cpuSeconds(pid: number | "self"): number {
  const t = procCpuTimesSync(pid);
  return t.user + t.sys;
}

/** One message: payload and its whole encoded header section. */
interface Outgoing {
  readonly data: Uint8Array;
  readonly headers: Uint8Array;
}

/** Encoded headers as nats.js takes them (it only calls `encode()`). */
function encoded(bytes: Uint8Array): MsgHdrs {
  return { encode: () => bytes } as unknown as MsgHdrs;
}

/** Publishes chunks as fast batches, several at once, on one inbox subscription. */
class FastBatcher {
  private readonly prefix = createInbox();
  private readonly batches = new Map<string, (text: string) => void>();
  /** Replies received (flow acknowledgements, PubAcks, errors). */
  replies = 0;

  constructor(private readonly nc: NatsConnection) {
    nc.subscribe(`${this.prefix}.>`, {
      callback: (err, m) => {
        if (err) throw err;
        this.replies++;
        const id = m.subject.slice(this.prefix.length + 1).split(".", 1)[0];
        this.batches.get(id)?.(dec.decode(m.data));
      },
    });
  }

  /** Stores `msgs` as one batch; resolves with the final PubAck, rejects on an error reply. */
  async send(subject: string, msgs: readonly Outgoing[]): Promise<{ count: number }> {
    const id = crypto.randomUUID().replaceAll("-", "");
    let acked = 0;
    let flow = FLOW;
    let replies = 0;
    let final: { count: number } | undefined;
    let failed: Error | undefined;
    let wake: (() => void) | undefined;
    this.batches.set(id, (text) => {
      replies++;
      const reply = JSON.parse(text);
      if (reply.type === "ack") {
        acked = Math.max(acked, reply.seq);
        flow = reply.msgs;
      } else if (reply.type !== undefined || reply.error) {
        failed = new Error(`fast batch ${id}: ${text}`);
      } else final = reply;
      wake?.();
    });
    const until = async (done: () => boolean) => {
      while (!done()) {
        if (failed) throw failed;
        await new Promise<void>((r) => wake = r);
      }
      if (failed) throw failed;
    };
    try {
      for (let i = 0; i < msgs.length; i++) {
        const seq = i + 1;
        const op = seq === msgs.length ? 2 : seq === 1 ? 0 : 1;
        this.nc.publish(subject, msgs[i].data, {
          reply: `${this.prefix}.${id}.${FLOW}.fail.${seq}.${op}.$FI`,
          headers: encoded(msgs[i].headers),
        });
        // The server's first reply says the batch exists and with what flow it starts.
        if (op === 0) await until(() => replies > 0);
        else if (op === 1) await until(() => acked + flow * OUTSTANDING > seq);
      }
      await until(() => final !== undefined);
      return final!;
    } finally {
      this.batches.delete(id);
    }
  }
}

/** Sends one chunk through the pipelined publisher; resolves once every message is acknowledged. */
function pipelined(p: PipelinedPublisher, subject: string, msgs: readonly Outgoing[]) {
  return new Promise<{ count: number }>((resolve, reject) => {
    let left = msgs.length;
    msgs.forEach((m, i) =>
      p.send(subject, m.data, m.headers, (_tag, err) => {
        if (err) reject(err);
        else if (--left === 0) resolve({ count: msgs.length });
      }, i)
    );
  });
}

async function main(): Promise<void> {
  const bin = new URL("../.tools/bin/nats-server", import.meta.url).pathname;
  const dir = await Deno.makeTempDir({ prefix: "kb-fastbatch-" });
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const server = new Deno.Command(bin, {
    args: ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", dir],
    stdout: "null",
    stderr: "null",
  }).spawn();
  let nc: NatsConnection | undefined;
  for (let i = 0; !nc; i++) {
    try {
      nc = await connect({ servers: `nats://127.0.0.1:${port}` });
    } catch (err) {
      if (i === 50) throw new Error(`no nats-server on port ${port}: ${(err as Error).message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const jsm = await jetstreamManager(nc);
  const payload = new Uint8Array(1024).fill(97);
  try {
    console.log(
      `${N} messages of 1 KB, chunks of ${CHUNK}, ${IN_FLIGHT} in flight, fast batches: flow ${FLOW}, ` +
        `${OUTSTANDING} windows outstanding, ${DEDUP ? "a Nats-Msg-Id each" : "no Nats-Msg-Id"}`,
    );
    for (const [round, mode] of MODES.entries()) {
      if (mode !== "pipelined" && mode !== "fast") throw new Error(`KB_FB_MODES: unknown ${mode}`);
      const name = `KB_FASTBATCH_${round}`;
      const subject = `kb-fastbatch.${round}`;
      await jsm.streams.add(
        {
          name,
          subjects: [subject],
          allow_batched: true,
          duplicate_window: 120e9,
        } as Partial<StreamConfig> as StreamConfig,
      );
      const chunks: Outgoing[][] = [];
      for (let i = 0; i < N; i += CHUNK) {
        chunks.push(Array.from({ length: Math.min(CHUNK, N - i) }, (_, j) => ({
          data: payload,
          headers: enc.encode(
            `NATS/1.0\r\nkb-producer: bench\r\n` +
              (DEDUP ? `Nats-Msg-Id: ${name}-${i + j}\r\n\r\n` : "\r\n"),
          ),
        })));
      }
      const pub = new PipelinedPublisher(nc);
      const fast = new FastBatcher(nc);
      const send = (c: Outgoing[]) =>
        (mode === "fast" ? fast.send(subject, c) : pipelined(pub, subject, c)).then((ack) => {
          if (ack.count !== c.length) {
            throw new Error(`batch of ${c.length} acknowledged ${ack.count}`);
          }
        });
      await nc.flush();
      const c0 = cpuSeconds("self"), s0 = cpuSeconds(server.pid), t0 = performance.now();
      const inFlight: Promise<void>[] = [];
      for (const c of chunks) {
        inFlight.push(send(c));
        if (inFlight.length >= IN_FLIGHT) await inFlight.shift();
      }
      await Promise.all(inFlight);
      const seconds = (performance.now() - t0) / 1000;
      const client = cpuSeconds("self") - c0, srv = cpuSeconds(server.pid) - s0;
      const stored = (await jsm.streams.info(name)).state.messages;
      await send(chunks[0]); // every id already stored
      const again = (await jsm.streams.info(name)).state.messages;
      console.log(
        `${mode.padEnd(9)} ${Math.round(N / seconds)} msg/s, client ${
          (1e6 * client / N).toFixed(1)
        } ` +
          `µs/msg, nats-server ${(1e6 * srv / N).toFixed(1)} µs/msg, stored ${stored}, ` +
          `${again} after the first chunk again, ${
            mode === "fast" ? `${fast.replies} replies, ` : ""
          }` +
          `load ${Deno.loadavg()[0].toFixed(1)}`,
      );
      pub.close();
      await jsm.streams.delete(name);
    }
  } finally {
    await nc.close();
    server.kill("SIGTERM");
    await server.status;
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
