/**
 * The in-process transport: JetStream's semantics (streams, message-id dedup,
 * durable consumers shared by replicas, explicit acks, redelivery after a nak or
 * an ack-wait timeout, a delivery limit) inside one process, for the zero-set-up
 * demo and fast tests. Like Watermill's GoChannel, it is a real implementation of
 * the interface, checked by the same conformance suite as {@link NatsTransport}.
 *
 * @module
 */
import { type StreamSpec, subjectMatches, subjectsOverlap } from "../../contracts/names.ts";
import {
  type ConsumeOptions,
  type ConsumerSpec,
  type ConsumerState,
  type Delivery,
  type Headers,
  MSG_ID_HEADER,
  NoStreamError,
  type PublishAck,
  type PublishOptions,
  type RequestHandler,
  type Stoppable,
  type StoredMessage,
  type StreamState,
  type Subscription,
  type Transport,
} from "./transport.ts";

interface Stored extends StoredMessage {
  readonly msgId?: string;
}

class MemStream {
  readonly messages: Stored[] = [];
  readonly dedup = new Map<string, { seq: number; at: number }>();
  readonly consumers = new Map<string, MemConsumer>();
  lastSeq = 0;
  constructor(public spec: StreamSpec) {}

  firstSeq(): number {
    return this.messages.length ? this.messages[0].seq : this.lastSeq + 1;
  }

  get(seq: number): Stored | undefined {
    const first = this.firstSeq();
    return this.messages[seq - first];
  }
}

interface PendingAck {
  timer?: ReturnType<typeof setTimeout>;
  holder: MemSubscription;
  redelivered: boolean;
  /** Payload bytes, given back to the holder's byte budget when settled. */
  bytes: number;
}

class MemConsumer {
  /** Next stream sequence not yet delivered. */
  cursor = 1;
  readonly ready: number[] = [];
  readonly delayed = new Map<number, ReturnType<typeof setTimeout>>();
  readonly pendingAck = new Map<number, PendingAck>();
  readonly deliveries = new Map<number, number>();
  readonly subs: MemSubscription[] = [];
  private rr = 0;
  exceeded = 0;

  constructor(
    public spec: ConsumerSpec,
    readonly stream: MemStream,
    readonly owner: MemoryTransport,
  ) {}

  matches(subject: string): boolean {
    return this.spec.filterSubjects.length === 0 ||
      this.spec.filterSubjects.some((p) => subjectMatches(p, subject));
  }

  private nextSeq(): number | undefined {
    if (this.ready.length) return this.ready.shift();
    while (this.cursor <= this.stream.lastSeq) {
      const seq = this.cursor++;
      const m = this.stream.get(seq);
      if (m && this.matches(m.subject)) return seq;
    }
    return undefined;
  }

  private hasWork(): boolean {
    if (this.ready.length) return true;
    for (let s = this.cursor; s <= this.stream.lastSeq; s++) {
      const m = this.stream.get(s);
      if (m && this.matches(m.subject)) return true;
      this.cursor = s + 1;
    }
    return false;
  }

  dispatch(): void {
    while (this.pendingAck.size < this.spec.maxAckPending && this.hasWork()) {
      if (!this.pickSubscriber(0, false)) return;
      const seq = this.nextSeq();
      if (seq === undefined) return;
      const m = this.stream.get(seq);
      if (!m) continue;
      const sub = this.pickSubscriber(m.data.byteLength, true);
      if (!sub) {
        // No replica has room for this message's bytes: it waits, first in line.
        insertSorted(this.ready, seq);
        return;
      }
      const count = (this.deliveries.get(seq) ?? 0) + 1;
      if (count > this.spec.maxDeliver) {
        this.deliveries.delete(seq);
        this.exceeded++;
        continue;
      }
      this.deliveries.set(seq, count);
      const pending: PendingAck = { holder: sub, redelivered: count > 1, bytes: m.data.byteLength };
      this.pendingAck.set(seq, pending);
      this.armAckWait(seq, pending);
      sub.push(this.makeDelivery(m, count, sub));
    }
  }

  /** The next replica (round robin) with room for a message of `bytes`; `take` moves the turn on. */
  private pickSubscriber(bytes: number, take: boolean): MemSubscription | undefined {
    for (let i = 0; i < this.subs.length; i++) {
      const sub = this.subs[(this.rr + i) % this.subs.length];
      if (sub.hasRoom(bytes)) {
        if (take) this.rr = (this.rr + i + 1) % this.subs.length;
        return sub;
      }
    }
    return undefined;
  }

  private armAckWait(seq: number, pending: PendingAck): void {
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    pending.timer = setTimeout(() => {
      if (this.pendingAck.get(seq) !== pending) return;
      this.pendingAck.delete(seq);
      pending.holder.release(pending.bytes);
      this.requeue(seq, 0);
    }, this.spec.ackWaitMs);
  }

  private requeue(seq: number, delayMs: number): void {
    if (delayMs <= 0) {
      insertSorted(this.ready, seq);
      this.dispatch();
      return;
    }
    const t = setTimeout(() => {
      this.delayed.delete(seq);
      insertSorted(this.ready, seq);
      this.dispatch();
    }, delayMs);
    this.delayed.set(seq, t);
  }

  private settle(seq: number, sub: MemSubscription): PendingAck | undefined {
    const pending = this.pendingAck.get(seq);
    if (!pending || pending.holder !== sub) return undefined;
    if (pending.timer !== undefined) clearTimeout(pending.timer);
    this.pendingAck.delete(seq);
    sub.release(pending.bytes);
    return pending;
  }

  private makeDelivery(m: Stored, count: number, sub: MemSubscription): Delivery {
    let settled = false;
    const once = (f: () => void) => {
      if (settled) return;
      settled = true;
      f();
    };
    return {
      subject: m.subject,
      data: m.data,
      headers: m.headers,
      msgId: m.msgId,
      stream: this.stream.spec.name,
      streamSeq: m.seq,
      deliveryCount: count,
      timestampMs: m.timestampMs,
      ack: () => {
        once(() => {
          if (this.settle(m.seq, sub)) this.deliveries.delete(m.seq);
          this.dispatch();
        });
        return Promise.resolve();
      },
      nak: (delayMs = 0) =>
        once(() => {
          if (this.settle(m.seq, sub)) this.requeue(m.seq, delayMs);
          this.dispatch();
        }),
      term: () =>
        once(() => {
          if (this.settle(m.seq, sub)) this.deliveries.delete(m.seq);
          this.dispatch();
        }),
      working: () => {
        const pending = this.pendingAck.get(m.seq);
        if (!settled && pending && pending.holder === sub) this.armAckWait(m.seq, pending);
      },
    };
  }

  state(): ConsumerState {
    let pending = this.ready.length + this.delayed.size;
    for (let s = this.cursor; s <= this.stream.lastSeq; s++) {
      const m = this.stream.get(s);
      if (m && this.matches(m.subject)) pending++;
    }
    let redelivered = 0;
    for (const p of this.pendingAck.values()) if (p.redelivered) redelivered++;
    return { pending, ackPending: this.pendingAck.size, redelivered };
  }

  detach(sub: MemSubscription, returned: Delivery[]): void {
    const i = this.subs.indexOf(sub);
    if (i >= 0) this.subs.splice(i, 1);
    for (const d of returned) d.nak(0);
  }

  clearTimers(): void {
    for (const p of this.pendingAck.values()) if (p.timer !== undefined) clearTimeout(p.timer);
    for (const t of this.delayed.values()) clearTimeout(t);
    this.delayed.clear();
  }
}

class MemSubscription implements Subscription {
  private readonly queue: Delivery[] = [];
  private held = 0;
  private heldBytes = 0;
  private wake?: () => void;
  private stopped = false;

  constructor(private readonly consumer: MemConsumer, private readonly options: ConsumeOptions) {}

  /** Room for one more delivery of `bytes` (any size when nothing is held). */
  hasRoom(bytes: number): boolean {
    if (this.stopped || this.held >= this.options.maxMessages) return false;
    const max = this.options.maxBytes;
    return max === undefined || this.held === 0 || this.heldBytes + bytes <= max;
  }

  push(d: Delivery): void {
    this.held++;
    this.heldBytes += d.data.byteLength;
    this.queue.push(d);
    this.wake?.();
  }

  release(bytes: number): void {
    this.held = Math.max(0, this.held - 1);
    this.heldBytes = Math.max(0, this.heldBytes - bytes);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Delivery> {
    while (true) {
      const d = this.queue.shift();
      if (d) {
        yield d;
        continue;
      }
      if (this.stopped) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  stop(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.stopped = true;
    const returned = this.queue.splice(0);
    this.consumer.detach(this, returned);
    this.wake?.();
    return Promise.resolve();
  }

  /** Leaves without settling anything, as a killed process would. */
  abandon(): void {
    this.stopped = true;
    this.queue.splice(0);
    const i = this.consumer.subs.indexOf(this);
    if (i >= 0) this.consumer.subs.splice(i, 1);
    this.wake?.();
  }

  state(): Promise<ConsumerState> {
    return Promise.resolve(this.consumer.state());
  }
}

function insertSorted(a: number[], v: number): void {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  a.splice(lo, 0, v);
}

/** The in-process implementation of {@link Transport}. */
export class MemoryTransport implements Transport {
  readonly kind = "memory";
  private readonly streams = new Map<string, MemStream>();
  private readonly services = new Map<string, { handler: RequestHandler; queue?: string }[]>();
  private closed = false;

  ensureStream(spec: StreamSpec): Promise<void> {
    this.assertOpen();
    const existing = this.streams.get(spec.name);
    for (const other of this.streams.values()) {
      if (other.spec.name === spec.name) continue;
      for (const a of spec.subjects) {
        for (const b of other.spec.subjects) {
          if (subjectsOverlap(a, b)) {
            return Promise.reject(
              new Error(
                `stream ${spec.name} subjects overlap with stream ${other.spec.name} ("${a}" vs "${b}")`,
              ),
            );
          }
        }
      }
    }
    if (existing) existing.spec = spec;
    else this.streams.set(spec.name, new MemStream(spec));
    return Promise.resolve();
  }

  ensureConsumer(spec: ConsumerSpec): Promise<void> {
    const stream = this.stream(spec.stream);
    const existing = stream.consumers.get(spec.durable);
    if (existing) existing.spec = spec;
    else stream.consumers.set(spec.durable, new MemConsumer(spec, stream, this));
    return Promise.resolve();
  }

  publish(subject: string, data: Uint8Array, options: PublishOptions = {}): Promise<PublishAck> {
    this.assertOpen();
    const stream = [...this.streams.values()].find((s) =>
      s.spec.subjects.some((p) => subjectMatches(p, subject))
    );
    if (!stream) return Promise.reject(new NoStreamError(subject));
    const now = Date.now();
    const headers: Headers = { ...(options.headers ?? {}) };
    if (options.msgId) {
      headers[MSG_ID_HEADER] = options.msgId;
      const seen = stream.dedup.get(options.msgId);
      if (seen && now - seen.at < stream.spec.duplicateWindowMs) {
        return Promise.resolve({ stream: stream.spec.name, seq: seen.seq, duplicate: true });
      }
    }
    const seq = ++stream.lastSeq;
    stream.messages.push({ subject, data, headers, seq, timestampMs: now, msgId: options.msgId });
    if (options.msgId) {
      stream.dedup.set(options.msgId, { seq, at: now });
      if (stream.dedup.size > 100_000) pruneDedup(stream, now);
    }
    for (const c of stream.consumers.values()) c.dispatch();
    return Promise.resolve({ stream: stream.spec.name, seq, duplicate: false });
  }

  consume(stream: string, durable: string, options: ConsumeOptions): Promise<Subscription> {
    const consumer = this.stream(stream).consumers.get(durable);
    if (!consumer) {
      return Promise.reject(
        new Error(
          `consumer ${durable} on stream ${stream} does not exist: call ensureConsumer first`,
        ),
      );
    }
    const sub = new MemSubscription(consumer, options);
    consumer.subs.push(sub);
    queueMicrotask(() => consumer.dispatch());
    return Promise.resolve(sub);
  }

  async request(
    subject: string,
    data: Uint8Array,
    options: { timeoutMs: number },
  ): Promise<Uint8Array> {
    this.assertOpen();
    const handlers = [...this.services.entries()].filter(([s]) => subjectMatches(s, subject))
      .flatMap(([, hs]) => hs);
    if (!handlers.length) throw new Error(`no responders for subject "${subject}"`);
    const h = handlers[Math.floor(Math.random() * handlers.length)];
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        Promise.resolve(h.handler(data, {})),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () =>
              reject(new Error(`request to "${subject}" timed out after ${options.timeoutMs} ms`)),
            options.timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  serve(
    subject: string,
    handler: RequestHandler,
    options: { queue?: string } = {},
  ): Promise<Stoppable> {
    this.assertOpen();
    const entry = { handler, queue: options.queue };
    const list = this.services.get(subject) ?? [];
    list.push(entry);
    this.services.set(subject, list);
    return Promise.resolve({
      stop: () => {
        const l = this.services.get(subject) ?? [];
        const i = l.indexOf(entry);
        if (i >= 0) l.splice(i, 1);
        return Promise.resolve();
      },
    });
  }

  consumerState(stream: string, durable: string): Promise<ConsumerState> {
    const c = this.stream(stream).consumers.get(durable);
    if (!c) {
      return Promise.reject(new Error(`consumer ${durable} on stream ${stream} does not exist`));
    }
    return Promise.resolve(c.state());
  }

  streamState(name: string): Promise<StreamState> {
    const s = this.stream(name);
    return Promise.resolve({
      messages: s.messages.length,
      firstSeq: s.firstSeq(),
      lastSeq: s.lastSeq,
    });
  }

  async *read(
    name: string,
    options: { fromSeq?: number; max?: number; subject?: string } = {},
  ): AsyncIterable<StoredMessage> {
    const s = this.stream(name);
    let n = 0;
    for (let seq = Math.max(options.fromSeq ?? 1, s.firstSeq()); seq <= s.lastSeq; seq++) {
      const m = s.get(seq);
      if (!m || (options.subject && !subjectMatches(options.subject, m.subject))) continue;
      if (options.max !== undefined && n++ >= options.max) return;
      yield m;
    }
  }

  deleteStream(name: string): Promise<void> {
    const s = this.streams.get(name);
    if (s) {
      for (const c of s.consumers.values()) {
        c.clearTimers();
        for (const sub of [...c.subs]) sub.abandon();
      }
      this.streams.delete(name);
    }
    return Promise.resolve();
  }

  /**
   * Drops a subscription without settling its deliveries, as a killed process
   * would: what it held comes back only after the ack wait. For tests.
   */
  abandon(sub: Subscription): void {
    if (sub instanceof MemSubscription) sub.abandon();
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const s of this.streams.values()) {
      for (const c of s.consumers.values()) {
        c.clearTimers();
        for (const sub of [...c.subs]) sub.abandon();
      }
    }
    return Promise.resolve();
  }

  private stream(name: string): MemStream {
    this.assertOpen();
    const s = this.streams.get(name);
    if (!s) throw new Error(`stream ${name} does not exist: call ensureStream first`);
    return s;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("the in-process transport is closed");
  }
}

function pruneDedup(stream: MemStream, now: number): void {
  for (const [id, v] of stream.dedup) {
    if (now - v.at >= stream.spec.duplicateWindowMs) stream.dedup.delete(id);
  }
}
