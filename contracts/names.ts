/**
 * Every NATS subject, JetStream stream and durable consumer of the pipeline is
 * named here, once. Actors, gateways, tests, benchmarks and deployment files
 * refer to these constants; a subject written as a string literal anywhere else
 * is a bug.
 *
 * Subject layout (dots separate tokens; `*` is one token, `>` the rest):
 *
 * | subject                    | stream          | what flows                              |
 * |----------------------------|-----------------|-----------------------------------------|
 * | `demo.ping`, `demo.pong`   | `KB_DEMO`       | the runtime's demonstration actor pair  |
 * | `alerts.in.<kind>`         | `KB_ALERTS_IN`  | alerts entering from Hopskotch          |
 * | `results.<kind>`           | `KB_RESULTS`    | derived results (classifier, ...)       |
 * | `alerts.out.<topic>`       | `KB_ALERTS_OUT` | alerts leaving towards Hopskotch        |
 * | `dlq.<actor>`              | `KB_DLQ`        | dead letters, one subject per actor     |
 *
 * @module
 */

/** A JetStream stream as the pipeline declares it. */
export interface StreamSpec {
  /** Stream name (upper case, no dots). */
  readonly name: string;
  /** Subjects the stream captures (may contain wildcards). */
  readonly subjects: readonly string[];
  /** What the stream holds, shown by `nats stream info`. */
  readonly description: string;
  /** How long messages are kept, in milliseconds (0 = forever). */
  readonly maxAgeMs: number;
  /** Window in which a repeated `Nats-Msg-Id` is dropped as a duplicate, in milliseconds. */
  readonly duplicateWindowMs: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const MINUTE_MS = 60 * 1000;

/** Every stream of the pipeline, keyed by role. */
export const STREAMS = {
  demo: {
    name: "KB_DEMO",
    subjects: ["demo.>"],
    description: "demonstration ping/pong traffic of the actor runtime",
    maxAgeMs: 1 * DAY_MS,
    duplicateWindowMs: 10 * MINUTE_MS,
  },
  alertsIn: {
    name: "KB_ALERTS_IN",
    subjects: ["alerts.in.>"],
    description: "alerts received from Hopskotch (GW, GRB, optical, unknown), one subject per kind",
    maxAgeMs: 14 * DAY_MS,
    duplicateWindowMs: 60 * MINUTE_MS,
  },
  results: {
    name: "KB_RESULTS",
    subjects: ["results.>"],
    description: "classification results and other derived products",
    maxAgeMs: 14 * DAY_MS,
    duplicateWindowMs: 60 * MINUTE_MS,
  },
  alertsOut: {
    name: "KB_ALERTS_OUT",
    subjects: ["alerts.out.>"],
    description: "derived alerts on their way to Hopskotch topics",
    maxAgeMs: 14 * DAY_MS,
    duplicateWindowMs: 60 * MINUTE_MS,
  },
  deadLetters: {
    name: "KB_DLQ",
    subjects: ["dlq.>"],
    description: "messages an actor could not accept or handle, with the reason",
    maxAgeMs: 30 * DAY_MS,
    duplicateWindowMs: 60 * MINUTE_MS,
  },
} as const satisfies Record<string, StreamSpec>;

/** Subjects of the pipeline. Functions build concrete subjects from tokens. */
export const SUBJECTS = {
  /** Demonstration input: pings for the echo actor. */
  demoPing: "demo.ping",
  /** Demonstration output: the echo actor's pongs. */
  demoPong: "demo.pong",
  /** Dead letters of one actor. */
  deadLetter: (actor: string): string => `dlq.${token(actor)}`,
  /** Every dead letter. */
  deadLetterAll: "dlq.>",
  /** Status request endpoint of an actor's NATS micro service. */
  actorStatus: (actor: string): string => `kb.actor.${token(actor)}.status`,
} as const;

/** Durable consumer names. An actor's durable consumer carries the actor's name. */
export const CONSUMERS = {
  /** The durable consumer shared by every replica of an actor. */
  ofActor: (actor: string): string => token(actor),
} as const;

/** Finds the stream that captures a concrete subject, or `undefined`. */
export function streamForSubject(subject: string): StreamSpec | undefined {
  return Object.values(STREAMS).find((s) => s.subjects.some((p) => subjectMatches(p, subject)));
}

/** NATS subject matching: `*` matches one token, a trailing `>` one or more. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split(".");
  const s = subject.split(".");
  for (let i = 0; i < p.length; i++) {
    if (p[i] === ">") return s.length > i;
    if (i >= s.length) return false;
    if (p[i] !== "*" && p[i] !== s[i]) return false;
  }
  return p.length === s.length;
}

/** True when two subject patterns can match a common subject. */
export function subjectsOverlap(a: string, b: string): boolean {
  const p = a.split(".");
  const q = b.split(".");
  for (let i = 0; i < Math.max(p.length, q.length); i++) {
    if (p[i] === ">" || q[i] === ">") return p.length > i && q.length > i;
    if (p[i] === undefined || q[i] === undefined) return false;
    if (p[i] !== "*" && q[i] !== "*" && p[i] !== q[i]) return false;
  }
  return true;
}

/** Validates one subject token (actor names become tokens). */
export function token(value: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(value)) {
    throw new Error(
      `"${value}" cannot be used as a subject token: use letters, digits, '_' or '-' only`,
    );
  }
  return value;
}
