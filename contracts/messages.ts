/**
 * Every message that crosses the bus, as a zod schema, bound to the subject it
 * travels on. Actors name their input and outputs by these channels; the runtime
 * validates every message against them on the way in and on the way out.
 *
 * @module
 */
import { z } from "zod";
import { ALERT_KINDS, OBSERVATION_SUBJECTS, RESULT_SUBJECTS, SUBJECTS } from "./names.ts";

/** A subject (or subject pattern) bound to the schema of what travels on it. */
export interface Channel<S extends z.ZodType = z.ZodType> {
  /** Concrete subject, or a pattern with wildcards when the subject carries a key. */
  readonly subject: string;
  /** Schema of the JSON payload. */
  readonly schema: S;
  /** One line on what the channel carries. */
  readonly description: string;
}

/** Binds a subject to its schema. */
export function channel<S extends z.ZodType>(
  subject: string,
  schema: S,
  description: string,
): Channel<S> {
  return { subject, schema, description };
}

/** The payload type of a channel. */
export type PayloadOf<C> = C extends Channel<infer S> ? z.infer<S> : never;

/** A ping for the demonstration echo actor. */
export const Ping = z.object({
  /** Sender's sequence number. */
  seq: z.number().int().nonnegative(),
  /** Sender's clock when sent, epoch milliseconds (latency measurement). */
  sentAt: z.number(),
  /** Opaque body, e.g. padding to a message size. */
  body: z.string().max(1_000_000).default(""),
  /** Milliseconds the echo actor should spend on it (to simulate work). */
  workMs: z.number().int().nonnegative().max(60_000).default(0),
  /** Make the echo actor throw this many times before succeeding (tests retries). */
  failTimes: z.number().int().nonnegative().max(100).default(0),
  /** Milliseconds of CPU the echo actor should burn on it (busy loop; the scale test's work). */
  cpuMs: z.number().int().nonnegative().max(60_000).default(0),
});
/** A ping. */
export type Ping = z.infer<typeof Ping>;

/** The echo actor's answer to a ping. */
export const Pong = z.object({
  seq: z.number().int().nonnegative(),
  sentAt: z.number(),
  /** Message id of the ping answered. */
  pingId: z.string(),
  /** Replica that handled the ping. */
  replica: z.string(),
  /** Delivery attempt on which it succeeded (1 = first). */
  attempt: z.number().int().positive(),
  handledAt: z.number(),
});
/** A pong. */
export type Pong = z.infer<typeof Pong>;

/** Why a message was dead-lettered. */
export const DeadLetterReason = z.enum([
  "oversize",
  "undecodable",
  "schema",
  "handler_failed",
  "rejected",
  "redelivery_limit",
  "output_invalid",
]);
/** Why a message was dead-lettered. */
export type DeadLetterReason = z.infer<typeof DeadLetterReason>;

/** A message an actor could not accept or handle, kept whole with the reason. */
export const DeadLetter = z.object({
  actor: z.string(),
  replica: z.string(),
  reason: DeadLetterReason,
  /** Human-readable detail: the validation issues, the error message, ... */
  detail: z.string(),
  /** Delivery attempts made before giving up. */
  attempts: z.number().int().nonnegative(),
  deadLetteredAt: z.string(),
  original: z.object({
    subject: z.string(),
    id: z.string(),
    stream: z.string().optional(),
    streamSeq: z.number().int().optional(),
    headers: z.record(z.string(), z.string()),
    /** Payload bytes, base64. */
    dataBase64: z.string(),
    size: z.number().int().nonnegative(),
  }),
});
/** A dead letter. */
export type DeadLetter = z.infer<typeof DeadLetter>;

// ---- Hopskotch gateway --------------------------------------------------------

/** hop-client's `_format` values (hop/models.py: the lower-case model names). */
export const HopFormatSchema = z.enum([
  "json",
  "blob",
  "voevent",
  "avro",
  "gcntextnotice",
  "circular",
  "external",
]);

/** An inbound alert kind (`alerts.in.<kind>`). */
export const AlertKindSchema = z.enum(ALERT_KINDS);

/** Decoded content of a hop record, by the representation used (`format`). */
export const HopContent = z.discriminatedUnion("format", [
  /** JSON value (JSONBlob; also legacy envelopes, as their JSON). */
  z.object({ format: z.literal("json"), json: z.unknown() }),
  /**
   * Avro object container: every record as JSON, bytes/fixed as base64, and the
   * writer schema's identity — its full name (e.g. `ztf.alert`) and the SHA-256
   * (hex) of its Parsing Canonical Form. The schema itself is in the container,
   * `raw.base64`, not repeated here (several KB per alert).
   */
  z.object({
    format: z.literal("avro"),
    schemaName: z.string().min(1),
    schemaFingerprint: z.string().regex(/^[0-9a-f]{64}$/, "SHA-256, lowercase hex"),
    records: z.array(z.unknown()),
  }),
  /** VOEvent XML text. */
  z.object({ format: z.literal("voevent"), text: z.string() }),
  /** GCN plain-text notice. */
  z.object({ format: z.literal("gcntextnotice"), text: z.string() }),
  /** GCN circular: hop serialises it as JSON {header, body}. */
  z.object({
    format: z.literal("circular"),
    header: z.record(z.string(), z.string()),
    body: z.string(),
  }),
  /** Reference to a message stored elsewhere (hop's large-message offload). */
  z.object({ format: z.literal("external"), url: z.string() }),
  /** Opaque bytes: they are `raw.base64` (not repeated). */
  z.object({ format: z.literal("blob") }),
]);
/** Decoded content of a hop record. */
export type HopContent = z.infer<typeof HopContent>;

/**
 * The record value exactly as on the wire (its bytes, `size` of them), in one of two forms:
 *
 * - `{ base64, size }`: the bytes, base64. Every format; every envelope of gateways
 *   before this form existed, so consumers accept it always.
 * - `{ base64: null, size, sameAsJson: true }`: the bytes are not repeated because the
 *   envelope already holds them: the value is a JSON text (valid UTF-8, no byte order
 *   mark) copied into the envelope as `content.json` byte for byte, leading and trailing
 *   whitespace included. Only with `content.format` `"json"`, and only in envelope bytes
 *   written that way (the gateway's `encodeEnvelope`): the parsed `content.json` alone does
 *   not give the bytes back (`JSON.stringify` writes numbers, escapes and whitespace its own
 *   way). Get them from the envelope bytes as received with `hopRecordBytes`
 *   (contracts/hop_raw.ts): the bytes from just after the `:` of the `"json"` member of
 *   `content` up to the `,` or `}` that ends it. Saves ~1.37 KB per 1 KB JSON record.
 *
 * Something that re-serialises an envelope (e.g. `JSON.stringify` of the parsed object)
 * must first put it in the first form (`withRawBase64`).
 */
export const HopRaw = z.union([
  z.object({ base64: z.string(), size: z.number().int().nonnegative() }),
  z.object({
    base64: z.null(),
    size: z.number().int().nonnegative(),
    sameAsJson: z.literal(true),
  }),
]);
/** The record value of an envelope (see {@link HopRaw}). */
export type HopRaw = z.infer<typeof HopRaw>;

/**
 * `HopEnvelope` v1: one Kafka record as the inbound gateway publishes it on
 * `alerts.in.<kind>`. `Nats-Msg-Id` is `hop:<_id>` or, without `_id`,
 * `kafka:<topic>:<partition>:<offset>`.
 */
export const HopEnvelope = z.object({
  schema: z.literal("kb.hop-envelope.v1"),
  kind: AlertKindSchema,
  kafka: z.object({
    topic: z.string(),
    partition: z.number().int().nonnegative(),
    /** Offset as a decimal string (int64-safe). */
    offset: z.string().regex(/^\d+$/),
    /** Kafka record timestamp, epoch milliseconds. */
    timestampMs: z.number(),
    /** Record key, base64, or null. */
    keyBase64: z.string().nullable(),
  }),
  hop: z.object({
    /** `_id` as a UUID string, null when the record has none. */
    id: z.guid().nullable(),
    sender: z.string().nullable(),
    test: z.boolean(),
    /** The model hop-client decodes the record into. */
    format: HopFormatSchema,
    /** The `_format` header as written (null without one; may name an unknown format). */
    formatHeader: z.string().nullable(),
    /** How the format was recognised: header, legacy envelope, plain JSON, or raw bytes. */
    via: z.enum(["header", "legacy", "json", "bytes"]),
    /** Other Kafka headers, values base64. */
    extraHeaders: z.array(z.object({ key: z.string(), base64: z.string() })),
  }),
  content: HopContent,
  /** The record value exactly as on the wire: base64, or `sameAsJson` (see {@link HopRaw}). */
  raw: HopRaw,
  /** When the gateway received it, ISO 8601. */
  receivedAt: z.string(),
}).refine((e) => e.raw.base64 !== null || e.content.format === "json", {
  message: "raw.sameAsJson needs JSON content (content.format json): give raw.base64",
  path: ["raw"],
});
/** An inbound hop record. */
export type HopEnvelope = z.infer<typeof HopEnvelope>;

/**
 * `HopOutbound`: a record to produce to Kafka, published on `alerts.out.<topic-token>`.
 * Give exactly one of `content` (JSON for json/external/circular, text for
 * voevent/gcntextnotice, `{schema, records}` for avro with bytes as base64) or
 * `dataBase64` (the exact value bytes, any format).
 */
export const HopOutbound = z.object({
  format: HopFormatSchema,
  content: z.unknown().optional(),
  dataBase64: z.string().optional(),
  /** `_id` UUID; default: derived from the NATS message id, so a redelivery keeps its `_id`. */
  id: z.guid().optional(),
  test: z.boolean().default(false),
  /** Kafka record key (UTF-8). */
  key: z.string().optional(),
}).refine((o) => (o.content === undefined) !== (o.dataBase64 === undefined), {
  message: "give exactly one of content and dataBase64",
});
/** An outbound hop record. */
export type HopOutbound = z.infer<typeof HopOutbound>;

// ---- Archive and results (issue 6) ----------------------------------------------

/** A model's name and version, as a classifier reports it. */
export const ModelRef = z.object({
  /** Model name, e.g. `kilonova-lgbm`. */
  name: z.string().min(1).max(200),
  /** Model version (semantic or a training-run id). */
  version: z.string().min(1).max(200),
});
/** A model's name and version. */
export type ModelRef = z.infer<typeof ModelRef>;

/**
 * `ClassificationResult` v1: what a classifier publishes on `results.<kind>`
 * (e.g. `results.kilonova`, stream `KB_RESULTS`) for one candidate. The results
 * publisher stores it (idempotent by message id) and turns each material change
 * into a {@link DerivedAlert}.
 */
export const ClassificationResult = z.object({
  schema: z.literal("kb.classification.v1"),
  /** The candidate (optical object id, as in the archive's `candidates` table). */
  candidate_id: z.string().min(1).max(200),
  /** Probability or score per class, each in [0, 1] (e.g. {"kilonova": 0.83, "SN Ia": 0.1}). */
  scores: z.record(z.string().min(1), z.number().min(0).max(1)).refine(
    (s) => Object.keys(s).length > 0,
    { message: "give at least one class score" },
  ),
  model: ModelRef,
  /** Feature values the model used (name → value; null when missing). */
  features: z.record(z.string(), z.number().nullable()).default({}),
  /** Why the model scored as it did: a summary and, optionally, per-feature contributions. */
  explanation: z.object({
    summary: z.string().max(10_000),
    contributions: z.record(z.string(), z.number()).optional(),
  }).default({ summary: "" }),
  /** Message ids of the archived alerts the result was computed from (`alerts.msg_id`). */
  input_alert_ids: z.array(z.string().min(1)).min(1).max(10_000),
  /** GW superevent (or other event) the candidate was associated with, if any. */
  event_id: z.string().nullable().default(null),
  /** When the classifier computed it, ISO 8601. */
  computed_at: z.iso.datetime({ offset: true }),
});
/** A classification result. */
export type ClassificationResult = z.infer<typeof ClassificationResult>;

/** A target of a derived alert (HERMES `data.targets[]`). */
export const DerivedTarget = z.object({
  name: z.string(),
  /** Degrees, ICRS. */
  ra: z.number().min(0).max(360),
  dec: z.number().min(-90).max(90),
  /** Degrees (HERMES: ra_error, dec_error with units). */
  ra_error: z.number().nonnegative().optional(),
  dec_error: z.number().nonnegative().optional(),
  ra_error_units: z.literal("degrees").optional(),
  dec_error_units: z.literal("degrees").optional(),
  /** First time the broker saw it, ISO 8601. */
  discovery_date: z.string().optional(),
});

/** A photometric point of a derived alert (HERMES `data.photometry[]`). */
export const DerivedPhotometry = z.object({
  target_name: z.string(),
  /** ISO 8601 (UTC), from the MJD stored as double precision. */
  date_obs: z.string(),
  /** Observation time, UTC MJD (kept exactly; HERMES readers use date_obs). */
  mjd: z.number(),
  telescope: z.string(),
  instrument: z.string(),
  bandpass: z.string(),
  brightness: z.number().optional(),
  brightness_error: z.number().optional(),
  limiting_brightness: z.number().optional(),
  brightness_unit: z.enum(["AB mag", "Vega mag"]),
});

/** The classification section of a derived alert. */
export const DerivedClassification = z.object({
  /** The class with the highest score. */
  class: z.string(),
  /** Its score. */
  score: z.number().min(0).max(1),
  /** Every class score. */
  scores: z.record(z.string(), z.number().min(0).max(1)),
  model: z.string(),
  version: z.string(),
  features: z.record(z.string(), z.number().nullable()),
  explanation: z.object({
    summary: z.string(),
    contributions: z.record(z.string(), z.number()).optional(),
  }),
  computed_at: z.string(),
});

/** One input of a derived alert: the archived alert it was computed from. */
export const DerivedInput = z.object({
  /** Message id in the archive (`alerts.msg_id`). */
  alert_id: z.string(),
  /** hop `_id` of the Kafka record, when it had one. */
  hop_id: z.string().nullable(),
  /** Where the record was read from; null when the archive does not know it. */
  topic: z.string().nullable(),
  partition: z.number().int().nullable(),
  offset: z.string().nullable(),
});

/**
 * `DerivedAlert` v1: a classification result as a message for Hopskotch, shaped
 * after SCiMMA HERMES messages (title, topic, submitter, authors, message_text,
 * data: event_id, targets, photometry, references) plus a `classification`
 * section and the `inputs` it was computed from. JSON Schema:
 * docs/derived-alert.schema.json.
 */
export const DerivedAlert = z.object({
  /** Format marker, for readers that see many kinds of JSON on a topic. */
  schema: z.literal("kb.derived-alert.v1"),
  title: z.string(),
  /** The Hopskotch topic it is meant for (as HERMES writes it). */
  topic: z.string(),
  submitter: z.string(),
  authors: z.string(),
  message_text: z.string(),
  data: z.object({
    /** GW superevent (or other event) id; empty when not associated. */
    event_id: z.string(),
    targets: z.array(DerivedTarget),
    photometry: z.array(DerivedPhotometry),
    references: z.array(z.object({
      source: z.string(),
      citation: z.string(),
      url: z.string().optional(),
    })),
    classification: DerivedClassification,
    /** The result this alert publishes (`results.result_id`) and its inputs. */
    result_id: z.string(),
    inputs: z.array(DerivedInput),
    /** Monotonic per candidate and model: 1 for the first publication, then 2, ... */
    revision: z.number().int().positive(),
  }),
});
/** A derived alert. */
export type DerivedAlert = z.infer<typeof DerivedAlert>;

/**
 * A derived alert as an outbound hop record (a {@link HopOutbound} whose
 * content is a {@link DerivedAlert}), published on `alerts.out.results`.
 */
export const DerivedAlertOutbound = z.object({
  format: z.literal("json"),
  content: DerivedAlert,
  /** hop `_id`, derived from the result id: a republication keeps it. */
  id: z.guid(),
  test: z.boolean().default(false),
  /** Kafka key: the candidate id (one partition per candidate keeps its order). */
  key: z.string().optional(),
});
/** An outbound derived alert. */
export type DerivedAlertOutbound = z.infer<typeof DerivedAlertOutbound>;

/** States of an observation request (LCO OCS request-group states). */
export const ObservationState = z.enum([
  "PENDING",
  "COMPLETED",
  "WINDOW_EXPIRED",
  "FAILURE_LIMIT_REACHED",
  "CANCELED",
]);
/** A request-group state. */
export type ObservationState = z.infer<typeof ObservationState>;

/**
 * A state change of a request group at a facility (issue 9), published on
 * `observations.status.<facility>`; the TOM updates its ObservationRecord.
 */
export const ObservationStatusEvent = z.object({
  schema: z.literal("kb.observation-status.v1"),
  /** Facility name as the TOM knows it (e.g. `LCO`). */
  facility: z.string().min(1),
  /** The facility's request-group id (the TOM's `observation_id`). */
  observation_id: z.string().min(1),
  /** The request group's name (the TOM names them `kb-<record id>`). */
  name: z.string(),
  state: ObservationState,
  previous: ObservationState.nullable(),
  /** Per request (epoch) of the group: its id and state. */
  requests: z.array(z.object({ id: z.string(), state: ObservationState })),
  /** Why (e.g. the failure or expiry reason). */
  detail: z.string().default(""),
  /** When the facility changed the state, ISO 8601. */
  changed_at: z.iso.datetime({ offset: true }),
});
/** A request-group state change. */
export type ObservationStatusEvent = z.infer<typeof ObservationStatusEvent>;

/** Every channel of the pipeline. */
export const CHANNELS = {
  demoPing: channel(SUBJECTS.demoPing, Ping, "pings for the demonstration echo actor"),
  demoPong: channel(SUBJECTS.demoPong, Pong, "the echo actor's pongs"),
  deadLetters: channel(SUBJECTS.deadLetterAll, DeadLetter, "dead letters of every actor"),
  alertsIn: channel(SUBJECTS.alertsInAll, HopEnvelope, "Kafka records from Hopskotch, by kind"),
  alertsOut: channel(SUBJECTS.alertsOutAll, HopOutbound, "records for Hopskotch topics"),
  results: channel(RESULT_SUBJECTS.resultsAll, ClassificationResult, "classification results"),
  derivedAlerts: channel(
    RESULT_SUBJECTS.derivedAlerts,
    DerivedAlertOutbound,
    "derived alerts (HERMES-shaped JSON) for the Hopskotch results topic",
  ),
  observationStatus: channel(
    OBSERVATION_SUBJECTS.statusAll,
    ObservationStatusEvent,
    "state changes of observation requests, by facility",
  ),
} as const;

// ---- Alert contents: what the source publisher's payloads decode to ------------
//
// The gateway decodes a hop record and puts the result in `HopEnvelope.content`:
// for `avro` each entry of `records` is one of the Avro records below, as avsc
// decodes it (unions unwrapped, `null` for absent, `bytes` as base64 strings);
// for `json` the `json` value is one of the GCN notices below. The archiver and
// the classifier validate the decoded content against these schemas.

/** IGWN alert types (`igwn.alerts.AlertType`). */
export const IgwnAlertType = z.enum([
  "EARLYWARNING",
  "PRELIMINARY",
  "INITIAL",
  "UPDATE",
  "RETRACTION",
]);

/**
 * One decoded `igwn.alerts.Alert` record (schema from the `igwn-gwalert-schema`
 * package, copied with attribution to actors/source_publisher/schemas/).
 */
export const IgwnAlertContent = z.object({
  alert_type: IgwnAlertType,
  /** ISO 8601. */
  time_created: z.string(),
  superevent_id: z.string(),
  event: z.object({
    /** Event time, ISO 8601. */
    time: z.string(),
    /** False alarm rate, Hz. */
    far: z.number(),
    significant: z.boolean(),
    instruments: z.array(z.string()),
    group: z.string(),
    pipeline: z.string(),
    search: z.string(),
    /** Source classification probabilities (BNS, NSBH, BBH, Terrestrial). */
    classification: z.record(z.string(), z.number()),
    /** Source properties (HasNS, HasRemnant, HasMassGap). */
    properties: z.record(z.string(), z.number()),
    mchirp_source: z.object({
      bin_edges: z.array(z.number()),
      probabilities: z.array(z.number()),
    }).nullable().optional(),
    duration: z.number().nullable(),
    central_frequency: z.number().nullable(),
    /** Multi-order (NUNIQ) FITS sky map, base64. */
    skymap: z.string().nullable(),
  }).nullable(),
  external_coinc: z.object({
    gcn_notice_id: z.union([z.number().int(), z.string()]),
    ivorn: z.string(),
    observatory: z.string(),
    search: z.string(),
    /** External event time minus GW event time, seconds. */
    time_difference: z.number(),
    time_coincidence_far: z.number().nullable(),
    time_sky_position_coincidence_far: z.number().nullable(),
    combined_skymap: z.string().nullable(),
  }).nullable(),
  urls: z.record(z.string(), z.string()),
});
/** A decoded IGWN alert. */
export type IgwnAlertContent = z.infer<typeof IgwnAlertContent>;

/** A Fermi GBM notice in the GCN unified JSON schema (`gcn/notices/fermi/gbm/trigger.schema.json`). */
export const FermiGbmNotice = z.looseObject({
  $schema: z.string().regex(/\/gcn\/notices\/fermi\/gbm\/trigger\.schema\.json$/),
  mission: z.literal("Fermi"),
  instrument: z.literal("GBM"),
  messenger: z.literal("EM"),
  alert_datetime: z.string(),
  alert_type: z.enum(["initial", "update", "retraction"]),
  trigger_time: z.string(),
  /** Trigger number and burst name, e.g. ["524666471", "bn170817529"]. */
  id: z.array(z.string()).min(1),
  subtype: z.enum(["INITIAL_ALERT", "FLIGHT_POSITION", "GROUND_POSITION", "FINAL_POSITION"]),
  record_number: z.number().int().optional(),
  ra: z.number().optional(),
  dec: z.number().optional(),
  ra_dec_error: z.number().optional(),
  containment_probability: z.number().optional(),
});
/** A Fermi GBM notice. */
export type FermiGbmNotice = z.infer<typeof FermiGbmNotice>;

/** IceCube's search for neutrinos coincident with a GW alert (`gcn/notices/icecube/lvk_nu_track_search.schema.json`). */
export const IceCubeNuSearchNotice = z.looseObject({
  $schema: z.string().regex(/\/gcn\/notices\/icecube\/lvk_nu_track_search\.schema\.json$/),
  ref_ID: z.string(),
  reference: z.record(z.string(), z.string()).optional(),
  alert_datetime: z.string(),
  trigger_time: z.string(),
  observation_start: z.string(),
  observation_stop: z.string(),
  observation_livetime: z.number(),
  pval_generic: z.number().nullable(),
  pval_bayesian: z.number().nullable(),
  n_events_coincident: z.number().int().nonnegative(),
  coincident_events: z.array(z.unknown()).optional(),
});
/** An IceCube GW-follow-up notice. */
export type IceCubeNuSearchNotice = z.infer<typeof IceCubeNuSearchNotice>;

/** Any GCN notice the replay publishes (told apart by `$schema`). */
export const GcnNoticeContent = z.union([FermiGbmNotice, IceCubeNuSearchNotice]);
/** A decoded GCN notice. */
export type GcnNoticeContent = z.infer<typeof GcnNoticeContent>;

/** One photometric point of an optical candidate (`kb.optical.v1.Candidate`). */
export const OpticalCandidate = z.object({
  /** Id of this measurement, unique per object. */
  candid: z.number().int().nonnegative(),
  /** Observation time, UTC MJD. */
  mjd: z.number(),
  ra: z.number().min(0).max(360),
  dec: z.number().min(-90).max(90),
  /** Filter label as the source gives it (g, r, i, Ks, F160W, ...). */
  band: z.string().min(1),
  /** Magnitude of a detection; null for an upper limit. */
  mag: z.number().nullable(),
  mag_err: z.number().nullable(),
  /** Limiting magnitude (upper limits, and detections when known). */
  limiting_mag: z.number().nullable(),
  /** True for a non-detection: `limiting_mag` holds the limit. */
  upper_limit: z.boolean(),
  /** "AB", "Vega" or null when the source did not say. */
  mag_system: z.string().nullable(),
  /** `telescope/instrument`. */
  instrument: z.string(),
  /** Bibcode(s) or other provenance. */
  reference: z.string().nullable(),
});
/** One photometric point. */
export type OpticalCandidate = z.infer<typeof OpticalCandidate>;

/** An optical candidate alert (`kb.optical.v1.Alert`, ZTF-like: the new point plus recent history). */
export const OpticalAlertContent = z.object({
  schemavsn: z.string(),
  publisher: z.string(),
  /** Unique id of this alert (a UUID, equal to the hop `_id`). */
  alert_id: z.string(),
  /** Candidate (object) id, stable across its alerts. */
  object_id: z.string(),
  survey: z.string(),
  candidate: OpticalCandidate,
  /** Earlier detections and upper limits of the same object, oldest first; null when none. */
  prv_candidates: z.array(OpticalCandidate).nullable(),
});
/** A decoded optical candidate alert. */
export type OpticalAlertContent = z.infer<typeof OpticalAlertContent>;

/** Classes of the synthetic sky (the truth the classifier is scored against). */
export const TransientClass = z.enum([
  "kilonova",
  "SN Ia",
  "SN II-P",
  "SN Ib/c",
  "FBOT",
  "M-dwarf flare",
]);
/** A transient class. */
export type TransientClass = z.infer<typeof TransientClass>;

/**
 * Truth of one synthetic candidate: never part of an alert; written by the replay
 * to a separate file (`--truth`) so science tests can score the classifier.
 */
export const SyntheticTruth = z.object({
  run_id: z.string(),
  object_id: z.string(),
  class: TransientClass,
  ra: z.number(),
  dec: z.number(),
  distance_mpc: z.number().positive(),
  /** Explosion/merger/flare start, UTC MJD. */
  t0_mjd: z.number(),
  /** Whether the position was drawn from the GW sky map (else uniform on the sky). */
  in_map: z.boolean(),
  /** Model parameters (ejecta masses, peak magnitude, ...). */
  params: z.record(z.string(), z.number()),
  /** Alerts (detections) the survey produced for it. */
  detections: z.number().int().nonnegative(),
});
/** Truth of a synthetic candidate. */
export type SyntheticTruth = z.infer<typeof SyntheticTruth>;
