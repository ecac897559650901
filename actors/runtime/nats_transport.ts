/**
 * The production transport: NATS JetStream through nats.js. Streams and durable
 * pull consumers are declared from the specs in `contracts/names.ts`; every
 * replica of an actor joins the same durable consumer, so each message goes to
 * one replica; publishes carry `Nats-Msg-Id`, so JetStream's duplicate window
 * drops replays.
 *
 * @module
 */
import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { headers as natsHeaders, nanos } from "@nats-io/nats-core";
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type JsMsg,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import type { StreamSpec } from "../../contracts/names.ts";
import { PipelinedPublisher } from "./nats_publisher.ts";
import { atTurnEnd, runTurnEnd } from "./turn_end.ts";
import {
  type ConsumeOptions,
  type ConsumerSpec,
  type ConsumerState,
  type Delivery,
  type Headers,
  MSG_ID_HEADER,
  type PublishAck,
  type PublishOptions,
  type RequestHandler,
  type Stoppable,
  type StoredMessage,
  type StreamState,
  type Subscription,
  type Transport,
} from "./transport.ts";

/** Options for {@link NatsTransport.connect}. */
export interface NatsTransportOptions {
  /** Server URL(s), e.g. `nats://127.0.0.1:4222`. */
  readonly servers: string | string[];
  /** Connection name shown by `nats server report connections`. */
  readonly name?: string;
  /** Stream replicas in a NATS cluster (1 on a single server). */
  readonly streamReplicas?: number;
  /** Extra nats.js connection options (credentials, TLS, ...). */
  readonly connection?: Partial<ConnectionOptions>;
}

/** A publish or subscribe the server refused for lack of permission. */
export interface PermissionViolation {
  readonly operation: "publish" | "subscribe";
  readonly subject: string;
}

/** The NATS JetStream implementation of {@link Transport}. */
export class NatsTransport implements Transport {
  readonly kind = "nats";

  private constructor(
    /** The underlying connection (micro services and tools use it). */
    readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly streamReplicas: number,
  ) {
    this.publisher = new PipelinedPublisher(nc);
    this.watchPermissions();
  }

  private readonly publisher: PipelinedPublisher;
  private readonly violationListeners = new Set<(v: PermissionViolation) => void>();
  /** Permission violations the server reported on this connection so far. */
  permissionViolations = 0;

  /**
   * Calls `listener` for each permission violation the server reports (a
   * publish or subscribe outside this identity's allow-lists); returns an
   * unsubscribe function. The host counts them in `kb_nats_permission_violations_total`.
   */
  onPermissionViolation(listener: (v: PermissionViolation) => void): () => void {
    this.violationListeners.add(listener);
    return () => this.violationListeners.delete(listener);
  }

  private watchPermissions(): void {
    (async () => {
      for await (const s of this.nc.status()) {
        if (s.type !== "error") continue;
        const e = s.error as Error & { operation?: string; subject?: string };
        if (e?.name !== "PermissionViolationError") continue;
        this.permissionViolations++;
        const v: PermissionViolation = {
          operation: e.operation === "subscription" ? "subscribe" : "publish",
          subject: e.subject ?? "",
        };
        for (const l of this.violationListeners) l(v);
      }
    })();
  }

  /** Connects, failing with a message that says what to check. */
  static async connect(options: NatsTransportOptions): Promise<NatsTransport> {
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: options.servers,
        name: options.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        ...options.connection,
      });
    } catch (err) {
      throw new Error(
        `cannot connect to NATS at ${options.servers}: ${(err as Error).message}. ` +
          `Check KB_NATS_URL and that nats-server runs with JetStream ` +
          `(locally: bash deploy/local/stack.sh up nats)`,
        { cause: err },
      );
    }
    let jsm: JetStreamManager;
    try {
      jsm = await jetstreamManager(nc);
    } catch (err) {
      await nc.close();
      throw new Error(
        `NATS at ${options.servers} has no JetStream: start nats-server with -js ` +
          `(${(err as Error).message})`,
        { cause: err },
      );
    }
    return new NatsTransport(nc, jetstream(nc), jsm, options.streamReplicas ?? 1);
  }

  async ensureStream(spec: StreamSpec): Promise<void> {
    const config = {
      subjects: [...spec.subjects],
      description: spec.description,
      max_age: nanos(spec.maxAgeMs),
      duplicate_window: nanos(spec.duplicateWindowMs),
    };
    try {
      await this.jsm.streams.info(spec.name);
      await this.jsm.streams.update(spec.name, config);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await this.jsm.streams.add({
          name: spec.name,
          ...config,
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          discard: DiscardPolicy.Old,
          num_replicas: this.streamReplicas,
        });
      } catch (addErr) {
        // Another replica may have created it a moment ago.
        if (!/already in use|already exists/i.test(String(addErr))) throw addErr;
      }
    }
  }

  async ensureConsumer(spec: ConsumerSpec): Promise<void> {
    const config = {
      description: spec.description,
      filter_subjects: [...spec.filterSubjects],
      ack_wait: nanos(spec.ackWaitMs),
      max_deliver: spec.maxDeliver,
      max_ack_pending: spec.maxAckPending,
    };
    try {
      await this.jsm.consumers.info(spec.stream, spec.durable);
      await this.jsm.consumers.update(spec.stream, spec.durable, config);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.jsm.consumers.add(spec.stream, {
        ...config,
        durable_name: spec.durable,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
      });
    }
  }

  /** Publishes pipelined: many publishes in flight, acknowledgements matched back by token. */
  publish(subject: string, data: Uint8Array, options: PublishOptions = {}): Promise<PublishAck> {
    return this.publisher.publish(subject, data, options);
  }

  async consume(stream: string, durable: string, options: ConsumeOptions): Promise<Subscription> {
    const consumer = await this.js.consumers.get(stream, durable);
    // A loop of bounded fetches rather than nats.js' consume(): a fetch ends on
    // its own, so stop() can wait for the batch under way and hand back every
    // message it brings instead of leaving them to the ack-wait timeout.
    const expiresMs = 1000;
    const maxBytes = options.maxBytes;
    let stopped = false;
    let held = 0;
    let heldBytes = 0;
    // Payload of the largest delivery seen: sizes a count-bounded fetch under a byte budget.
    let largest = 0;
    let wake: (() => void) | undefined;
    let batch: Awaited<ReturnType<typeof consumer.fetch>> | undefined;
    const release = (bytes: number) => {
      held--;
      heldBytes -= bytes;
      wake?.();
    };
    const waitRelease = async () => {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    };
    const toDelivery = (m: JsMsg): Delivery => new NatsDelivery(m, release);
    // A background loop keeps a local queue filled with bounded fetches, so the
    // handler never waits for a round trip; it refills once half the budget is
    // free (a fetch per freed slot would cost a round trip per message).
    const queue: Delivery[] = [];
    let notify: (() => void) | undefined;
    const signal = () => {
      notify?.();
      notify = undefined;
    };
    const full = () =>
      held > options.maxMessages / 2 || (maxBytes !== undefined && heldBytes > maxBytes / 2);
    let failures = 0;
    let producerDone = false;
    // Set when the server had a message too large for the bytes asked for.
    let tooLarge = false;
    const producer = (async () => {
      while (!stopped) {
        while (full() && !stopped) await waitRelease();
        if (stopped) break;
        if (tooLarge && held > 0) {
          // Ask again once something held is settled (more bytes free); holding
          // nothing, the large message is fetched alone.
          await waitRelease();
          tooLarge = false;
          continue;
        }
        const plan = fetchPlan(
          options.maxMessages - held,
          maxBytes,
          heldBytes,
          largest,
          tooLarge,
          expiresMs,
        );
        tooLarge = false;
        if (plan.wait) {
          await waitRelease();
          continue;
        }
        let got = 0;
        try {
          batch = await consumer.fetch(plan.request);
          for await (const m of batch) {
            held++;
            got++;
            const d = toDelivery(m);
            heldBytes += d.data.byteLength;
            if (d.data.byteLength > largest) largest = d.data.byteLength;
            if (stopped) d.nak(); // pulled as we stopped: hand it to another replica now
            else queue.push(d);
            signal();
            // The request asked for this many: the server has nothing more for it
            // (nats.js, asked for bytes, would otherwise wait for the request to expire).
            if (got === plan.messages) break;
          }
          failures = 0;
        } catch (err) {
          if (isMaxBytesEnd(err)) {
            // The next message did not fit in the bytes asked for: the request ended.
            tooLarge = got === 0;
            failures = 0;
          } else {
            // The server went away or the consumer is being recreated: keep
            // trying (the connection reconnects on its own), slower each time.
            failures++;
            options.onError?.(err as Error, failures);
            await new Promise((resolve) =>
              setTimeout(resolve, Math.min(5000, 100 * 2 ** failures))
            );
          }
        }
        batch = undefined;
      }
    })().finally(() => {
      producerDone = true;
      signal();
    });
    return {
      async *[Symbol.asyncIterator]() {
        while (true) {
          const d = queue.shift();
          if (d) {
            if (stopped) {
              d.nak();
              continue;
            }
            yield d;
            continue;
          }
          if (stopped && producerDone) return;
          await new Promise<void>((resolve) => (notify = resolve));
        }
      },
      stop: async () => {
        stopped = true;
        wake?.();
        for (const d of queue.splice(0)) d.nak();
        signal();
        await producer.catch(() => {});
      },
      state: () => this.consumerState(stream, durable),
    };
  }

  async consumerState(stream: string, durable: string): Promise<ConsumerState> {
    const info = await this.jsm.consumers.info(stream, durable);
    return {
      pending: info.num_pending,
      ackPending: info.num_ack_pending,
      redelivered: info.num_redelivered,
    };
  }

  async request(
    subject: string,
    data: Uint8Array,
    options: { timeoutMs: number },
  ): Promise<Uint8Array> {
    const reply = await this.nc.request(subject, data, { timeout: options.timeoutMs });
    return reply.data;
  }

  serve(
    subject: string,
    handler: RequestHandler,
    options: { queue?: string } = {},
  ): Promise<Stoppable> {
    const sub = this.nc.subscribe(subject, {
      queue: options.queue,
      callback: (err, msg) => {
        if (err) return;
        const headers: Headers = {};
        if (msg.headers) { for (const [k, v] of msg.headers) headers[k] = v[0] ?? ""; }
        Promise.resolve()
          .then(() => handler(msg.data, headers))
          .then((reply) => msg.respond(reply))
          .catch((e) => {
            const h = natsHeaders(500, String((e as Error).message ?? e).slice(0, 200));
            msg.respond(new Uint8Array(), { headers: h });
          });
      },
    });
    return Promise.resolve({
      stop: async () => {
        await sub.drain();
      },
    });
  }

  async streamState(stream: string): Promise<StreamState> {
    const info = await this.jsm.streams.info(stream);
    return {
      messages: info.state.messages,
      firstSeq: info.state.first_seq,
      lastSeq: info.state.last_seq,
    };
  }

  async *read(
    stream: string,
    options: { fromSeq?: number; max?: number; subject?: string } = {},
  ): AsyncIterable<StoredMessage> {
    const state = await this.streamState(stream);
    const from = Math.max(options.fromSeq ?? 1, state.firstSeq);
    if (state.messages === 0 || from > state.lastSeq) return;
    const oc = await this.js.consumers.get(stream, {
      filter_subjects: options.subject ? [options.subject] : [],
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: from,
    });
    let n = 0;
    while (true) {
      const batch = await oc.fetch({ max_messages: 500, expires: 2000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        if (options.max !== undefined && n++ >= options.max) return;
        const headers: Headers = {};
        if (m.headers) { for (const [k, v] of m.headers) headers[k] = v[0] ?? ""; }
        yield {
          subject: m.subject,
          data: m.data,
          headers,
          seq: m.seq,
          timestampMs: Math.floor(Number(m.info.timestampNanos) / 1e6),
        };
        // Caught up: leave now instead of waiting for the fetch to expire.
        if (m.info.pending === 0) return;
      }
      if (got === 0) {
        // An empty fetch is not the end when the server is slow (a loaded machine, a long
        // filtered scan): leave only once the consumer says nothing is left.
        const info = await oc.info(false);
        if (info.num_pending === 0) return;
      }
    }
  }

  async deleteStream(stream: string): Promise<void> {
    try {
      await this.jsm.streams.delete(stream);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  /** The JetStream manager, for tools that need more than the interface. */
  get manager(): JetStreamManager {
    return this.jsm;
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    runTurnEnd();
    await this.nc.drain();
    this.publisher.close();
  }
}

const RESOLVED = Promise.resolve();

/**
 * Acks are gathered and sent together once the current burst of work is done
 * (`turn_end.ts`, with the publishes queued meanwhile): nats.js writes to the
 * socket once per microtask flush, and handlers finishing in different
 * microtasks would otherwise cost one system call per ack — more than half
 * the CPU of a busy consumer.
 */
const pendingAcks: JsMsg[] = [];
function flushAcks(): void {
  const batch = pendingAcks.splice(0);
  for (const m of batch) m.ack();
}
function queueAck(m: JsMsg): void {
  pendingAcks.push(m);
  if (pendingAcks.length >= 256) flushAcks();
  else if (pendingAcks.length === 1) atTurnEnd(flushAcks);
}

/** `\r\nNats-Msg-Id:` as bytes. */
const MSG_ID_LINE = new TextEncoder().encode(`\r\n${MSG_ID_HEADER}:`);
const headerText = new TextDecoder();

/**
 * The `Nats-Msg-Id` of a message read from its header section's bytes, without
 * nats.js decoding every header into its header object (what `m.headers`
 * does): the value of the first `Nats-Msg-Id` line, trimmed, `undefined`
 * without one (or an empty one), as `m.headers.get` answers. `null` when the
 * bytes are not at hand (nats.js keeps them in `msg._rdata`, the header
 * section's length in `msg._msg.hdr`; another version may not): then ask nats.js.
 */
export function rawMsgId(m: JsMsg): string | undefined | null {
  const msg = (m as unknown as { msg?: { _rdata?: unknown; _msg?: { hdr?: unknown } } }).msg;
  const data = msg?._rdata;
  const hdr = msg?._msg?.hdr;
  if (!(data instanceof Uint8Array) || typeof hdr !== "number") return null;
  if (hdr <= 0) return undefined;
  const end = Math.min(hdr, data.length) - MSG_ID_LINE.length;
  search: for (let i = 0; i <= end; i++) {
    for (let j = 0; j < MSG_ID_LINE.length; j++) {
      if (data[i + j] !== MSG_ID_LINE[j]) continue search;
    }
    const from = i + MSG_ID_LINE.length;
    let to = from;
    while (to < hdr && data[to] !== 13 && data[to] !== 10) to++;
    return headerText.decode(data.subarray(from, to)).trim() || undefined;
  }
  return undefined;
}

/**
 * One JetStream delivery. A class rather than closures (one allocation per
 * message), with headers decoded only when asked for.
 */
class NatsDelivery implements Delivery {
  private settled = false;
  private decodedHeaders?: Headers;
  private id: string | undefined | null = null;
  readonly subject: string;
  readonly data: Uint8Array;
  readonly stream: string;
  readonly streamSeq: number;
  readonly deliveryCount: number;
  readonly timestampMs: number;

  constructor(private readonly m: JsMsg, private readonly release: (bytes: number) => void) {
    this.subject = m.subject;
    this.data = m.data;
    const info = m.info;
    this.stream = info.stream;
    this.streamSeq = m.seq;
    this.deliveryCount = info.deliveryCount;
    this.timestampMs = Math.floor(Number(info.timestampNanos) / 1e6);
  }

  get headers(): Headers {
    if (!this.decodedHeaders) {
      const headers: Headers = {};
      if (this.m.headers) { for (const [k, v] of this.m.headers) headers[k] = v[0] ?? ""; }
      this.decodedHeaders = headers;
    }
    return this.decodedHeaders;
  }

  get msgId(): string | undefined {
    if (this.id === null) {
      // Read once, from the header bytes when nats.js has not decoded them (most deliveries:
      // nothing else reads their headers), else from its headers.
      const raw = rawMsgId(this.m);
      this.id = raw === null ? this.m.headers?.get(MSG_ID_HEADER) || undefined : raw;
    }
    return this.id;
  }

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.release(this.data.byteLength);
    return true;
  }

  ack(): Promise<void> {
    if (this.settle()) queueAck(this.m);
    return RESOLVED;
  }

  nak(delayMs?: number): void {
    if (this.settle()) this.m.nak(delayMs);
  }

  term(reason?: string): void {
    if (this.settle()) this.m.term(reason);
  }

  working(): void {
    if (!this.settled) this.m.working();
  }
}

/**
 * Messages nats.js asks for in one fetch bounded by bytes (it takes a byte bound
 * or a message count, not both, and asks for this many with a byte bound).
 */
export const BYTES_FETCH_MESSAGES = 100;

/** One fetch: what to ask nats.js for, and how many messages the request can bring. */
export interface FetchPlan {
  /** Nothing fits: wait for held deliveries to be settled first. */
  readonly wait: boolean;
  readonly request: { max_messages?: number; max_bytes?: number; expires: number };
  /** Messages the server may send for this request (the loop leaves after as many). */
  readonly messages: number;
}

/**
 * Sizes the next fetch of a subscription holding `heldBytes` with room for
 * `room` more deliveries under `maxBytes` (undefined: count only).
 *
 * - While even twice the largest message seen so far fits `room` times in the
 *   bytes left, the budget does not bind: the fetch asks for `room` messages
 *   (as without a budget: one large fetch, so handlers that batch see the same
 *   bursts).
 * - Otherwise, with room for {@link BYTES_FETCH_MESSAGES} or more, the server
 *   bounds the bytes (`max_bytes`); with less, the count is sized from the
 *   largest message seen.
 * - `tooLarge`: the last fetch found a message larger than the bytes asked for,
 *   and nothing is held now: it comes alone.
 */
export function fetchPlan(
  room: number,
  maxBytes: number | undefined,
  heldBytes: number,
  largest: number,
  tooLarge: boolean,
  expires = 1000,
): FetchPlan {
  const count = (n: number): FetchPlan => ({
    wait: false,
    request: { max_messages: n, expires },
    messages: n,
  });
  if (maxBytes === undefined) return count(room);
  if (tooLarge) return count(1);
  const byteRoom = maxBytes - heldBytes;
  if (largest > 0 && room * 2 * largest <= byteRoom) return count(room);
  if (room >= BYTES_FETCH_MESSAGES && byteRoom > 0) {
    return {
      wait: false,
      request: { max_bytes: byteRoom, expires },
      messages: BYTES_FETCH_MESSAGES,
    };
  }
  const fits = largest === 0 ? 1 : Math.floor(byteRoom / largest);
  const n = Math.min(room, heldBytes === 0 ? Math.max(1, fits) : fits);
  if (n <= 0) return { wait: true, request: { expires }, messages: 0 };
  return count(n);
}

/** The end of a byte-bounded fetch: the next message is larger than the bytes left. */
function isMaxBytesEnd(err: unknown): boolean {
  const e = err as { code?: number; message?: string };
  return /message size exceeds maxbytes/i.test(String(e?.message ?? err));
}

function isNotFound(err: unknown): boolean {
  const code = (err as { code?: number })?.code;
  return code === 10059 || code === 10014 || code === 404 ||
    /not found/i.test(String((err as Error)?.message ?? err));
}
