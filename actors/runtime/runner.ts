/**
 * Runs one actor replica on a transport: declares its streams and durable
 * consumer, pulls deliveries with bounded work in flight, pushes each through
 * the middleware chain, and drains on stop.
 *
 * @module
 */
import { toBase64 } from "./base64.ts";
import { createHash } from "node:crypto";
import type { z } from "zod";
import type { Channel, DeadLetter } from "../../contracts/messages.ts";
import {
  CONSUMERS,
  STREAMS,
  type StreamSpec,
  subjectMatches,
  SUBJECTS,
  subjectsOverlap,
} from "../../contracts/names.ts";
import { type ActorDefinition, type InputMessage, type Output, Rejection } from "./actor.ts";
import type { RuntimeConfig } from "./config.ts";
import type { Logger } from "./log.ts";
import type { RuntimeMetrics } from "./metrics.ts";
import {
  ackWaitHeartbeat,
  backoff,
  compose,
  type DeadLetterSink,
  describe,
  instrument,
  type Processor,
  redeliveryLimit,
  retryOrDeadLetter,
  sizeLimit,
} from "./middleware.ts";
import { inPlaceCheck, validate } from "./in_place.ts";
import { OrderGate, type OrderKey } from "./order_gate.ts";
import type { ConsumerSpec, Delivery, Headers, Subscription, Transport } from "./transport.ts";

/** Live counters of one replica. */
export interface ActorStats {
  received: number;
  handled: number;
  retried: number;
  deadLettered: number;
  inFlight: number;
  /** Payload bytes of the deliveries being handled. */
  inFlightBytes: number;
  startedAt: string;
}

/** A running replica. */
export interface RunningActor {
  readonly name: string;
  readonly replica: string;
  readonly consumer: ConsumerSpec;
  /** True while consuming and not stopping. */
  ready(): boolean;
  stats(): ActorStats;
  /**
   * Stops fetching, hands buffered deliveries back, finishes in-flight work
   * within `graceMs`. `clean` is false when the grace period ran out.
   */
  stop(graceMs?: number): Promise<{ clean: boolean; unfinished: number }>;
}

/** What {@link startActor} needs. */
export interface ActorDeps {
  readonly transport: Transport;
  readonly config: RuntimeConfig;
  readonly log: Logger;
  readonly metrics: RuntimeMetrics;
  readonly replica: string;
}

const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Finds the stream holding a channel's subject, or fails naming the channel. */
export function streamOf(subject: string): StreamSpec {
  const s = Object.values(STREAMS).find((st) =>
    st.subjects.some((p) => subjectsOverlap(p, subject))
  );
  if (!s) {
    throw new Error(`no stream in contracts/names.ts captures "${subject}": add it to STREAMS`);
  }
  return s;
}

/** The durable consumer an actor's replicas share. */
export function consumerSpecOf(def: ActorDefinition, config: RuntimeConfig): ConsumerSpec {
  const maxAttempts = def.tuning?.maxAttempts ?? config.KB_MAX_ATTEMPTS;
  return {
    stream: streamOf(def.input.subject).name,
    durable: CONSUMERS.ofActor(def.name),
    filterSubjects: [...(def.inputSubjects ?? [def.input.subject])],
    description: `${def.name}: ${def.description}`,
    ackWaitMs: def.tuning?.ackWaitMs ?? config.KB_ACK_WAIT_MS,
    // Room above the attempt budget so the redelivery limit can dead-letter
    // a message whose earlier deliveries were lost to crashes.
    maxDeliver: maxAttempts + 3,
    maxAckPending: config.KB_MAX_ACK_PENDING,
  };
}

/** Message id of an input: its `Nats-Msg-Id`, else its stream position. */
export function inputId(d: Delivery): string {
  return d.msgId ?? `${d.stream}:${d.streamSeq}`;
}

/** Derives an output's message id from its cause, so replays publish the same ids. */
export function outputId(cause: string, subject: string, key: string | undefined): string {
  const id = `${cause}>${subject}${key === undefined ? "" : `#${key}`}`;
  return id.length <= 200 ? id : `h:${createHash("sha256").update(id).digest("hex")}`;
}

/** Formats zod issues as `path: message; ...`. */
export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`)
    .join("; ");
}

function jsonDecode(data: Uint8Array): unknown {
  return JSON.parse(utf8.decode(data));
}

/**
 * An input message over its delivery: the headers are decoded only when a
 * handler reads them (most never do).
 */
class DeliveredMessage implements InputMessage<unknown> {
  readonly id: string;
  readonly subject: string;
  readonly timestampMs: number;
  constructor(
    private readonly d: Delivery,
    readonly data: unknown,
    readonly deliveryCount: number,
  ) {
    this.id = inputId(d);
    this.subject = d.subject;
    this.timestampMs = d.timestampMs;
  }
  get headers(): Headers {
    return this.d.headers;
  }
}

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Starts one replica of `def`. */
export async function startActor(def: ActorDefinition, deps: ActorDeps): Promise<RunningActor> {
  const { transport, config, metrics } = deps;
  const log = deps.log.child({ actor: def.name, replica: deps.replica });
  const maxAttempts = def.tuning?.maxAttempts ?? config.KB_MAX_ATTEMPTS;
  const maxInFlight = def.tuning?.maxInFlight ?? config.KB_MAX_IN_FLIGHT;
  const maxInFlightBytes = config.KB_MAX_IN_FLIGHT_BYTES;
  const spec = consumerSpecOf(def, config);

  const streams = new Set<StreamSpec>([
    streamOf(def.input.subject),
    STREAMS.deadLetters,
    ...def.outputs.map((c) => streamOf(c.subject)),
  ]);
  for (const s of streams) await transport.ensureStream(s);
  await transport.ensureConsumer(spec);

  const abort = new AbortController();
  const ctx = { actor: def.name, replica: deps.replica, log, signal: abort.signal };
  const counters = { received: 0, handled: 0, retried: 0, deadLettered: 0 };
  const startedAt = new Date().toISOString();
  const dlqSubject = SUBJECTS.deadLetter(def.name);
  const decode = def.decode ?? jsonDecode;

  // Attempts of keyed messages that gave up after retries in place (their
  // delivery count stayed that of the delivery), for the dead letter.
  const attemptsInPlace = new WeakMap<Delivery, number>();

  const deadLetter: DeadLetterSink = async (d, reason, detail) => {
    const letter: DeadLetter = {
      actor: def.name,
      replica: deps.replica,
      reason,
      detail,
      attempts: attemptsInPlace.get(d) ?? d.deliveryCount,
      deadLetteredAt: new Date().toISOString(),
      original: {
        subject: d.subject,
        id: inputId(d),
        stream: d.stream,
        streamSeq: d.streamSeq,
        headers: d.headers,
        dataBase64: toBase64(d.data),
        size: d.data.byteLength,
      },
    };
    await transport.publish(dlqSubject, encoder.encode(JSON.stringify(letter)), {
      msgId: `dlq:${def.name}:${inputId(d)}`,
      headers: { "kb-producer": def.name, "kb-dead-letter-reason": reason },
    });
    metrics.deadLettered.inc({ actor: def.name, reason });
    counters.deadLettered++;
  };

  // Checks of the channels' schemas, in place (in_place.ts): zod only when one fails.
  const outputChecks = new Map(def.outputs.map((c) => [c, inPlaceCheck(c.schema)]));
  const inputCheck = inPlaceCheck(def.input.schema);

  const publishOutputs = async (outputs: Output[], cause: string) => {
    const prepared = outputs.map((o, i) => {
      const subject = o.subject ?? o.channel.subject;
      if (!def.outputs.includes(o.channel)) {
        throw new Rejection(
          "output_invalid",
          `actor ${def.name} emitted on "${o.channel.subject}", which is not among its outputs`,
        );
      }
      if (/[*>]/.test(subject) || !subjectMatches(o.channel.subject, subject)) {
        throw new Rejection(
          "output_invalid",
          `output subject "${subject}" is not a concrete subject of "${o.channel.subject}"`,
        );
      }
      const schema = (o.channel as Channel).schema;
      const parsed = validate(schema, o.data, outputChecks.get(o.channel)!);
      if (!parsed.success) {
        throw new Rejection(
          "output_invalid",
          `output on ${subject} does not match its schema: ${formatIssues(parsed.error)}`,
        );
      }
      const key = o.key ?? (outputs.length > 1 ? String(i) : undefined);
      // The caller's own encoding of `data` is sent as it is, once `data` checked out
      // unchanged (else zod's copy, the value as the schema reads it, is encoded).
      const encoded = parsed.data === o.data ? o.encoded : undefined;
      return {
        subject,
        data: encoded === undefined
          ? encoder.encode(JSON.stringify(parsed.data))
          : typeof encoded === "string"
          ? encoder.encode(encoded)
          : encoded,
        msgId: o.id ?? outputId(cause, subject, key),
        headers: { "kb-producer": def.name, "kb-cause": cause, ...(o.headers ?? {}) },
      };
    });
    const acks = await Promise.all(
      prepared.map((p) =>
        transport.publish(p.subject, p.data, { msgId: p.msgId, headers: p.headers })
      ),
    );
    for (let i = 0; i < acks.length; i++) {
      if (acks[i].duplicate) metrics.duplicates.inc({ actor: def.name });
      else metrics.published.inc({ actor: def.name, subject: prepared[i].subject });
    }
  };

  const run = async (message: InputMessage<unknown>) => {
    const result = await def.handler(message, ctx);
    const outputs = result === undefined ? [] : Array.isArray(result) ? result : [result];
    if (outputs.length) await publishOutputs(outputs, message.id);
  };

  const orderKey = def.orderKey as ((m: InputMessage<unknown>) => OrderKey) | undefined;
  const gate = new OrderGate();
  const retried = metrics.retried.labels(def.name);

  /**
   * Runs a keyed message once its turn comes. A failure is retried here, with
   * back-off and the key held, so the key's later messages keep waiting; a
   * rejection, or a failure on the last attempt, dead-letters it (via the
   * middleware) and the key's next message proceeds.
   */
  const runInTurn = async (d: Delivery, message: InputMessage<unknown>, key: OrderKey) => {
    const turn = gate.enter(key);
    try {
      if (turn) await turn;
      if (abort.signal.aborted) {
        // The grace period ran out while it waited: hand it back, unhandled.
        d.nak();
        return "retried" as const;
      }
      for (let attempt = d.deliveryCount;; attempt++) {
        try {
          await run(
            attempt === d.deliveryCount ? message : new DeliveredMessage(d, message.data, attempt),
          );
          break;
        } catch (err) {
          if (err instanceof Rejection || abort.signal.aborted) throw err;
          if (attempt >= maxAttempts) {
            attemptsInPlace.set(d, attempt);
            throw new Rejection(
              "handler_failed",
              `failed on ${attempt} attempts (retried in place, key "${String(key)}" held): ${
                describe(err)
              }`,
              { cause: err },
            );
          }
          const delay = backoff(attempt, config.KB_BACKOFF_BASE_MS, config.KB_BACKOFF_MAX_MS);
          log.warn("handler failed; will retry in place, later messages of its key wait", {
            msgId: d.msgId,
            seq: d.streamSeq,
            key: String(key),
            attempt,
            retryInMs: delay,
            error: describe(err),
          });
          counters.retried++;
          retried.inc();
          await pause(delay, abort.signal);
        }
      }
    } finally {
      gate.leave(key);
    }
    await d.ack();
    return "acked" as const;
  };

  const core: Processor = async (d) => {
    let value: unknown;
    try {
      value = decode(d.data, d);
    } catch (err) {
      throw new Rejection("undecodable", `cannot decode payload: ${describe(err)}`);
    }
    const parsed = validate(def.input.schema, value, inputCheck);
    if (!parsed.success) {
      throw new Rejection(
        "schema",
        `input does not match its schema: ${formatIssues(parsed.error)}`,
      );
    }
    const message = new DeliveredMessage(d, parsed.data, d.deliveryCount);
    if (orderKey !== undefined) {
      // Entered before the first await: the gate sees deliveries in delivery order.
      let key: OrderKey;
      try {
        key = orderKey(message);
      } catch (err) {
        throw new Rejection("rejected", `cannot compute its ordering key: ${describe(err)}`);
      }
      return await runInTurn(d, message, key);
    }
    const result = await def.handler(message, ctx);
    const outputs = result === undefined ? [] : Array.isArray(result) ? result : [result];
    if (outputs.length) await publishOutputs(outputs, message.id);
    await d.ack();
    return "acked";
  };

  const heartbeat = ackWaitHeartbeat(spec.ackWaitMs);
  const pipeline = compose([
    instrument(metrics, def.name),
    retryOrDeadLetter({
      maxAttempts,
      backoffBaseMs: config.KB_BACKOFF_BASE_MS,
      backoffMaxMs: config.KB_BACKOFF_MAX_MS,
      deadLetter,
      log,
    }),
    redeliveryLimit(maxAttempts),
    sizeLimit(config.KB_MAX_MESSAGE_BYTES),
    heartbeat,
  ], core);

  const sub: Subscription = await transport.consume(spec.stream, spec.durable, {
    maxMessages: Math.max(config.KB_PREFETCH, maxInFlight),
    maxBytes: maxInFlightBytes,
    onError: (error, consecutive) => {
      if (consecutive === 1 || consecutive % 20 === 0) {
        log.warn("cannot fetch from the consumer; retrying", {
          error: describe(error),
          consecutive,
        });
      }
    },
  });
  metrics.probes.set(def.name, () => sub.state());

  // Deliveries being handled; `idle` resolves whoever waits for it to reach 0.
  const inFlight = { size: 0, bytes: 0 };
  let idle: (() => void) | undefined;
  // One async frame per delivery around the middleware chain (cheaper than a
  // then/catch/finally chain of three promises).
  const handle = async (d: Delivery): Promise<void> => {
    try {
      const outcome = await pipeline(d);
      if (outcome === "acked") counters.handled++;
      else if (outcome === "retried") counters.retried++;
    } catch (err) {
      // Settling itself failed (e.g. the connection closed under us): the
      // delivery stays unacknowledged and the server redelivers it.
      log.error("delivery left unsettled; it will be redelivered", {
        msgId: d.msgId,
        seq: d.streamSeq,
        error: describe(err),
      });
    } finally {
      inFlight.size--;
      inFlight.bytes -= d.data.byteLength;
      freeSlot?.();
      if (inFlight.size === 0) idle?.();
    }
  };
  let freeSlot: (() => void) | undefined;
  const slotFreed = () =>
    new Promise<void>((resolve) => {
      freeSlot = () => {
        freeSlot = undefined;
        resolve();
      };
    });
  let stopping = false;
  let consuming = true;
  const loop = (async () => {
    try {
      for await (const d of sub) {
        if (stopping) {
          d.nak();
          continue;
        }
        counters.received++;
        // Bounded by count and by payload bytes (one larger message runs alone).
        while (
          inFlight.size > 0 &&
          (inFlight.size >= maxInFlight || inFlight.bytes + d.data.byteLength > maxInFlightBytes)
        ) await slotFreed();
        inFlight.size++;
        inFlight.bytes += d.data.byteLength;
        handle(d);
      }
    } catch (err) {
      if (!stopping) log.error("consumer loop failed", { error: describe(err) });
    } finally {
      consuming = false;
    }
  })();

  log.info("actor started", {
    stream: spec.stream,
    consumer: spec.durable,
    subjects: spec.filterSubjects,
    maxInFlight,
    maxInFlightBytes,
    maxAttempts,
    transport: transport.kind,
  });

  return {
    name: def.name,
    replica: deps.replica,
    consumer: spec,
    ready: () => consuming && !stopping,
    stats: () => ({
      ...counters,
      inFlight: inFlight.size,
      inFlightBytes: inFlight.bytes,
      startedAt,
    }),
    async stop(graceMs = config.KB_GRACE_MS) {
      if (!stopping) {
        stopping = true;
        log.info("stopping: no new work, finishing what is in flight", {
          inFlight: inFlight.size,
          graceMs,
        });
        await sub.stop();
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const expired = new Promise<"expired">((resolve) => {
        timer = setTimeout(() => resolve("expired"), graceMs);
      });
      const drained = (async () => {
        await loop;
        while (inFlight.size) await new Promise<void>((resolve) => (idle = resolve));
        return "drained" as const;
      })();
      const result = await Promise.race([drained, expired]);
      clearTimeout(timer);
      heartbeat.stop();
      metrics.probes.delete(def.name);
      if (result === "expired") {
        abort.abort(new Error("grace period expired"));
        log.warn("grace period expired with work in flight; it will be redelivered", {
          unfinished: inFlight.size,
        });
        return { clean: false, unfinished: inFlight.size };
      }
      log.info("stopped cleanly", counters);
      return { clean: true, unfinished: 0 };
    },
  };
}
