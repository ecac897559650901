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
  observations: {
    name: "KB_OBSERVATIONS",
    subjects: ["observations.>"],
    description: "state changes of observation requests, published by facilities (issue 9)",
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
  /** Alerts of one kind received from Hopskotch (the inbound gateway's output). */
  alertsIn: (kind: AlertKind): string => `alerts.in.${token(kind)}`,
  /** Every inbound alert. */
  alertsInAll: "alerts.in.*",
  /** Records on their way to one Kafka topic (the outbound gateway's input). */
  alertsOut: (topicToken: string): string => `alerts.out.${token(topicToken)}`,
  /** Every outbound record. */
  alertsOutAll: "alerts.out.*",
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

// ---- Hopskotch gateway: alert kinds and Kafka topic names --------------------

/**
 * Kinds of inbound alerts, one `alerts.in.<kind>` subject each: `gw` IGWN
 * gravitational-wave alerts, `gcn` GCN notices and circulars, `optical` survey
 * candidates, `other` everything else.
 */
export const ALERT_KINDS = ["gw", "gcn", "optical", "other"] as const;
/** An inbound alert kind. */
export type AlertKind = typeof ALERT_KINDS[number];

/** One rule of the Kafka topic → alert kind mapping: a glob (`*` = any characters). */
export interface TopicKindRule {
  readonly pattern: string;
  readonly kind: AlertKind;
}

/**
 * Default topic → kind rules, first match wins (Hopskotch topics are
 * `<group>.<name>`; GCN's own Kafka uses `gcn.*`). Deployments prepend their own
 * rules with `KB_HOP_TOPIC_KINDS` (see gateway/hopskotch).
 */
export const DEFAULT_TOPIC_KINDS: readonly TopicKindRule[] = [
  { pattern: "igwn.gwalert", kind: "gw" },
  { pattern: "*.igwn-gwalert", kind: "gw" },
  { pattern: "*.gwalert", kind: "gw" },
  { pattern: "lvk.*", kind: "gw" },
  { pattern: "gcn.*", kind: "gcn" },
  { pattern: "*.gcn-notices", kind: "gcn" },
  { pattern: "*.gcn-circular*", kind: "gcn" },
  { pattern: "*.gcn", kind: "gcn" },
  { pattern: "ztf.*", kind: "optical" },
  { pattern: "lsst.*", kind: "optical" },
  { pattern: "*.ztf-*", kind: "optical" },
  { pattern: "*.lsst-*", kind: "optical" },
  { pattern: "*.optical*", kind: "optical" },
  { pattern: "*", kind: "other" },
];

const globCache = new Map<string, RegExp>();

function globMatches(pattern: string, value: string): boolean {
  let re = globCache.get(pattern);
  if (!re) {
    re = new RegExp(
      "^" + pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*") +
        "$",
    );
    globCache.set(pattern, re);
  }
  return re.test(value);
}

/** The alert kind of a Kafka topic: the first matching rule of `rules`, then the defaults. */
export function alertKindForTopic(
  topic: string,
  rules: readonly TopicKindRule[] = [],
): AlertKind {
  for (const r of [...rules, ...DEFAULT_TOPIC_KINDS]) {
    if (globMatches(r.pattern, topic)) return r.kind;
  }
  return "other";
}

/** Parses `pattern=kind,pattern=kind` (the `KB_HOP_TOPIC_KINDS` syntax). */
export function parseTopicKinds(text: string): TopicKindRule[] {
  return text.split(",").map((s) => s.trim()).filter(Boolean).map((entry) => {
    const [pattern, kind] = entry.split("=").map((s) => s.trim());
    if (!pattern || !(ALERT_KINDS as readonly string[]).includes(kind)) {
      throw new Error(
        `"${entry}" is not a topic rule: write <glob>=<kind> with kind one of ${
          ALERT_KINDS.join(", ")
        }`,
      );
    }
    return { pattern, kind: kind as AlertKind };
  });
}

/**
 * The Kafka topic an `alerts.out.<token>` subject is produced to: the explicit
 * `map` entry, else `<group>.<token>` (Hopskotch's `<group>.<name>` layout) when
 * a group is configured, else undefined (the record is dead-lettered).
 */
export function kafkaTopicForOutToken(
  topicToken: string,
  options: { map?: Readonly<Record<string, string>>; group?: string } = {},
): string | undefined {
  const mapped = options.map?.[topicToken];
  if (mapped) return mapped;
  return options.group ? `${options.group}.${topicToken}` : undefined;
}

// ---- Source publisher: Hopskotch topics of the replay and the synthetic sky ----

/**
 * Kafka topic names (without the group prefix) the source publisher writes, one
 * per payload format, as the real sources use them. On Hopskotch a topic is
 * `<group>.<name>`; {@link topicName} builds it. The names match
 * {@link DEFAULT_TOPIC_KINDS} (gw, gcn, gcn, optical).
 *
 * | key            | name                 | hop format | payload                                        |
 * |----------------|----------------------|------------|------------------------------------------------|
 * | `igwnAlert`    | `igwn-gwalert`       | `avro`     | `igwn.alerts.Alert` record with a NUNIQ sky map |
 * | `gcnNotices`   | `gcn-notices`        | `json`     | GCN unified-schema JSON (Fermi GBM, IceCube)    |
 * | `gcnCirculars` | `gcn-circulars`      | `circular` | `{header, body}` GCN circulars                  |
 * | `optical`      | `optical-candidates` | `avro`     | `kb.optical.v1.Alert` candidate alerts          |
 */
export const TOPICS = {
  igwnAlert: "igwn-gwalert",
  gcnNotices: "gcn-notices",
  gcnCirculars: "gcn-circulars",
  optical: "optical-candidates",
} as const;
/** A topic key of {@link TOPICS}. */
export type TopicKey = keyof typeof TOPICS;

/** `<group>.<name>` for a topic key; an empty group gives the bare name. */
export function topicName(group: string, key: TopicKey): string {
  if (group !== "" && !/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(group)) {
    throw new Error(
      `"${group}" cannot prefix a Kafka topic: use letters, digits, '.', '_' or '-'`,
    );
  }
  return group === "" ? TOPICS[key] : `${group.replace(/\.$/, "")}.${TOPICS[key]}`;
}

// ---- Archive and results (issue 6): classifier results and derived alerts ----

/**
 * Subjects of classification results and of the derived alerts made from them.
 * A classifier publishes each result on `results.<kind>` (stream `KB_RESULTS`,
 * e.g. `results.kilonova`); the results publisher stores it and sends the derived
 * alert to `alerts.out.results` (stream `KB_ALERTS_OUT`), which the outbound
 * gateway produces to the Hopskotch topic mapped to the token `results`.
 */
export const RESULT_SUBJECTS = {
  /** Results of one kind of classification (`kilonova`, ...). */
  results: (kind: string): string => `results.${token(kind)}`,
  /** Every classification result. */
  resultsAll: "results.*",
  /** The `alerts.out` token of derived alerts (Kafka topic `<group>.results` by default). */
  derivedTopicToken: "results",
  /** Derived alerts on their way to Hopskotch. */
  derivedAlerts: "alerts.out.results",
} as const;

// ---- Observation requests (issue 9): facility status events ----------------

/**
 * Subjects of observation requests. A facility (the simulated observatory, or a
 * bridge to a real one) publishes every state change of a request group on
 * `observations.status.<facility>` (stream `KB_OBSERVATIONS`); the TOM's
 * observation-status actor updates its ObservationRecords from them.
 */
export const OBSERVATION_SUBJECTS = {
  /** State changes of one facility's request groups. */
  status: (facility: string): string => `observations.status.${token(facility)}`,
  /** Every facility's state changes. */
  statusAll: "observations.status.*",
} as const;
