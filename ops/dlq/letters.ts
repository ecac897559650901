/**
 * Dead letters, for people: read them back from `KB_DLQ`, count them by actor
 * and reason, and replay the ones whose cause has been fixed.
 *
 * Replay publishes the original payload again on its original subject **with
 * its original message id and headers**. Every consumer of that stream sees it
 * again, and each is idempotent by message id (JetStream's duplicate window,
 * unique message ids in PostgreSQL, derived output ids), so the stages that had
 * handled it do nothing new and the one that refused it gets its second chance.
 * JetStream drops a republish inside the stream's duplicate window (the
 * original was stored under that id): such letters are reported with the time
 * after which a replay will be stored, and left in place.
 *
 * Only reasons a fix outside the message can cure are replayed unless asked
 * for by name: `handler_failed` (e.g. a database that stayed away longer than
 * the retries), `redelivery_limit`, `output_invalid` (a bug fixed by a new
 * version). `undecodable`, `schema`, `oversize` and `rejected` describe the
 * message itself; replaying them gives the same refusal.
 *
 * @module
 */
import { fromBase64 } from "../../actors/runtime/base64.ts";
import { DeadLetter, type DeadLetterReason } from "../../contracts/messages.ts";
import { STREAMS, subjectMatches, SUBJECTS } from "../../contracts/names.ts";
import type { Headers, Transport } from "../../actors/runtime/transport.ts";
import { NatsTransport } from "../../actors/runtime/nats_transport.ts";
import { MSG_ID_HEADER } from "../../actors/runtime/transport.ts";

/** Reasons replayed by default: causes outside the message. */
export const REPLAYABLE_REASONS: readonly DeadLetterReason[] = [
  "handler_failed",
  "redelivery_limit",
  "output_invalid",
];

/** A dead letter as stored in `KB_DLQ`. */
export interface StoredLetter {
  /** Sequence in `KB_DLQ` (`nats stream get KB_DLQ <seq>`). */
  readonly seq: number;
  readonly subject: string;
  readonly storedAtMs: number;
  readonly letter: DeadLetter;
}

/** Which letters a command is about. */
export interface LetterFilter {
  readonly actors?: readonly string[];
  readonly reasons?: readonly DeadLetterReason[];
  /** Explicit `KB_DLQ` sequences. */
  readonly seqs?: readonly number[];
}

/** A message in `KB_DLQ` that is not a dead letter (kept, reported, never replayed). */
export interface Unreadable {
  readonly seq: number;
  readonly subject: string;
  readonly error: string;
}

/** Reads the dead letters matching `filter`, oldest first. */
export async function readLetters(
  t: Transport,
  filter: LetterFilter = {},
  onUnreadable: (u: Unreadable) => void = () => {},
): Promise<StoredLetter[]> {
  const out: StoredLetter[] = [];
  const seqs = filter.seqs ? new Set(filter.seqs) : undefined;
  const subjects = filter.actors?.length === 1
    ? [SUBJECTS.deadLetter(filter.actors[0])]
    : [SUBJECTS.deadLetterAll];
  for (const subject of subjects) {
    for await (const m of t.read(STREAMS.deadLetters.name, { subject })) {
      if (seqs && !seqs.has(m.seq)) continue;
      let letter: DeadLetter;
      try {
        letter = DeadLetter.parse(JSON.parse(new TextDecoder().decode(m.data)));
      } catch (err) {
        onUnreadable({ seq: m.seq, subject: m.subject, error: (err as Error).message });
        continue;
      }
      if (filter.actors && !filter.actors.includes(letter.actor)) continue;
      if (filter.reasons && !filter.reasons.includes(letter.reason)) continue;
      out.push({ seq: m.seq, subject: m.subject, storedAtMs: m.timestampMs, letter });
    }
  }
  return out;
}

/** Counts per actor and reason, with the oldest and newest letter of each. */
export interface LetterCount {
  readonly actor: string;
  readonly reason: DeadLetterReason;
  readonly count: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly firstAt: string;
  readonly lastAt: string;
}

/** Groups letters by actor and reason. */
export function countLetters(letters: readonly StoredLetter[]): LetterCount[] {
  const groups = new Map<string, StoredLetter[]>();
  for (const l of letters) {
    const k = `${l.letter.actor}\u0000${l.letter.reason}`;
    const g = groups.get(k);
    if (g) g.push(l);
    else groups.set(k, [l]);
  }
  return [...groups.values()].map((g) => ({
    actor: g[0].letter.actor,
    reason: g[0].letter.reason,
    count: g.length,
    firstSeq: g[0].seq,
    lastSeq: g[g.length - 1].seq,
    firstAt: new Date(g[0].storedAtMs).toISOString(),
    lastAt: new Date(g[g.length - 1].storedAtMs).toISOString(),
  })).sort((a, b) => a.actor.localeCompare(b.actor) || a.reason.localeCompare(b.reason));
}

/** What happened to one letter on replay. */
export type ReplayOutcome =
  | {
    readonly seq: number;
    readonly outcome: "stored";
    readonly stream: string;
    readonly at: number;
  }
  | { readonly seq: number; readonly outcome: "duplicate"; readonly retryAfter: string }
  | { readonly seq: number; readonly outcome: "skipped"; readonly why: string }
  | { readonly seq: number; readonly outcome: "failed"; readonly error: string };

/** Options of {@link replayLetters}. */
export interface ReplayOptions {
  /** Print what would be done, publish nothing. */
  readonly dryRun?: boolean;
  /** Delete each letter from `KB_DLQ` once its replay is stored (NATS only). */
  readonly purge?: boolean;
  /** Reasons allowed (default {@link REPLAYABLE_REASONS}). */
  readonly reasons?: readonly DeadLetterReason[];
  /** Called after each letter (progress). */
  readonly onOutcome?: (o: ReplayOutcome, done: number, total: number) => void;
}

/** Headers the server sets itself; a replay must not carry them over. */
function replayHeaders(h: Headers): Headers {
  const out: Headers = {};
  for (const [k, v] of Object.entries(h)) {
    if (k === MSG_ID_HEADER || /^Nats-/i.test(k)) continue;
    out[k] = v;
  }
  return out;
}

function streamFor(subject: string) {
  return Object.values(STREAMS).find((s) => s.subjects.some((p) => subjectMatches(p, subject)));
}

/** Replays `letters` in order; returns one outcome per letter. */
export async function replayLetters(
  t: Transport,
  letters: readonly StoredLetter[],
  options: ReplayOptions = {},
): Promise<ReplayOutcome[]> {
  const allowed = options.reasons ?? REPLAYABLE_REASONS;
  if (options.purge && !(t instanceof NatsTransport)) {
    throw new Error("--purge needs the NATS transport (KB_TRANSPORT=nats)");
  }
  const outcomes: ReplayOutcome[] = [];
  for (const [i, l] of letters.entries()) {
    const o = await replayOne(t, l, allowed, options);
    outcomes.push(o);
    options.onOutcome?.(o, i + 1, letters.length);
  }
  return outcomes;
}

async function replayOne(
  t: Transport,
  l: StoredLetter,
  allowed: readonly DeadLetterReason[],
  options: ReplayOptions,
): Promise<ReplayOutcome> {
  const { letter, seq } = l;
  if (!allowed.includes(letter.reason)) {
    return {
      seq,
      outcome: "skipped",
      why: `reason ${letter.reason} describes the message itself; name it with --reason to ` +
        `replay it anyway`,
    };
  }
  const stream = streamFor(letter.original.subject);
  if (!stream || stream.name === STREAMS.deadLetters.name) {
    return {
      seq,
      outcome: "skipped",
      why: `original subject ${letter.original.subject} is not on the bus (e.g. a Kafka record ` +
        `the inbound gateway refused): fix it at the source and publish it there again`,
    };
  }
  if (options.dryRun) {
    return { seq, outcome: "skipped", why: `dry run: would publish to ${letter.original.subject}` };
  }
  try {
    const data = fromBase64(letter.original.dataBase64);
    const ack = await t.publish(letter.original.subject, data, {
      msgId: letter.original.id,
      headers: { ...replayHeaders(letter.original.headers), "kb-replayed-from": `KB_DLQ:${seq}` },
    });
    if (ack.duplicate) {
      const after = new Date(Date.parse(letter.deadLetteredAt) + stream.duplicateWindowMs);
      return { seq, outcome: "duplicate", retryAfter: after.toISOString() };
    }
    if (options.purge) {
      await (t as NatsTransport).manager.streams.deleteMessage(STREAMS.deadLetters.name, seq);
    }
    return { seq, outcome: "stored", stream: ack.stream, at: ack.seq };
  } catch (err) {
    return { seq, outcome: "failed", error: (err as Error).message };
  }
}
