/**
 * The simulated observatory's process: the OCS-shaped HTTP API (Hono) over an
 * {@link Observatory}, publishing every state change on
 * `observations.status.<facility>` and every exposure as an optical alert on
 * `alerts.in.optical` — the envelope the Hopskotch gateway and the replay
 * produce — so follow-up photometry reaches the archiver and the classifier.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import { CHANNELS, type ObservationStatusEvent } from "../../contracts/messages.ts";
import { OBSERVATION_SUBJECTS, STREAMS, SUBJECTS, topicName } from "../../contracts/names.ts";
import { loadEnv } from "../runtime/config.ts";
import type { Logger } from "../runtime/log.ts";
import type { Transport } from "../runtime/transport.ts";
import { envelopeOf } from "../source_publisher/sinks.ts";
import {
  encodeOpticalAlert,
  type Encoders,
  loadEncoders,
  opticalCandidate,
  PUBLISHER,
} from "../source_publisher/payloads.ts";
import { uuidV5 } from "../source_publisher/ids.ts";
import { OcsRequestGroupInput } from "../../gateway/tom/facilities/ocs.ts";
import { type Exposure, Observatory, OcsError, type StatusChange } from "./observatory.ts";
import { LightCurveTruth, seededRandom } from "./photometry.ts";
import { fileStateStore } from "./state_store.ts";

/** The observatory's environment variables. */
export const OBSERVATORY_ENV = {
  KB_OBSERVATORY_HOST: { schema: z.string().min(1).default("127.0.0.1"), doc: "listen address" },
  KB_OBSERVATORY_PORT: {
    schema: z.coerce.number().int().min(0).max(65535).default(18095),
    doc: "port of the OCS-shaped API (0 picks a free port)",
  },
  KB_OBSERVATORY_FACILITY: {
    schema: z.string().regex(/^[A-Za-z0-9_-]+$/).default("LCO"),
    doc: "facility name in status events (the TOM's facility name)",
  },
  KB_OBSERVATORY_TOKEN: {
    schema: z.string().min(1).optional(),
    doc: "API token clients must send as `Authorization: Token <token>` (unset: none needed)",
  },
  KB_OBSERVATORY_DELAY_MS: {
    schema: z.coerce.number().int().min(0).max(86_400_000).default(5000),
    doc: "real-time delay before each observation attempt, ms",
  },
  KB_OBSERVATORY_FAILURE_RATE: {
    schema: z.coerce.number().min(0).max(1).default(0),
    doc: "probability that an attempt is clouded out",
  },
  KB_OBSERVATORY_FAILURE_LIMIT: {
    schema: z.coerce.number().int().min(1).max(100).default(3),
    doc: "attempts of a request before FAILURE_LIMIT_REACHED",
  },
  KB_OBSERVATORY_STATE_DIR: {
    schema: z.string().min(1).optional(),
    doc: "directory of the state file (observatory-<facility>.json, replaced atomically after " +
      "every change; a restart resumes pending requests); unset: request groups in memory only",
  },
  KB_OBSERVATORY_SEED: {
    schema: z.coerce.number().int().default(1),
    doc: "seed of the weather and photometric noise",
  },
} as const;

/** The observatory's configuration. */
export type ObservatoryConfig = ReturnType<typeof loadObservatoryConfig>;

/** Reads the observatory's configuration. */
export function loadObservatoryConfig(
  env: Record<string, string | undefined> = Deno.env.toObject(),
) {
  return loadEnv(OBSERVATORY_ENV, env);
}

/** A running simulated observatory. */
export interface RunningObservatory {
  readonly url: string;
  readonly observatory: Observatory;
  stop(): Promise<void>;
}

/** The status event of a change. */
export function statusEvent(facility: string, c: StatusChange): ObservationStatusEvent {
  return CHANNELS.observationStatus.schema.parse({
    schema: "kb.observation-status.v1",
    facility,
    observation_id: String(c.group.id),
    name: c.group.name,
    state: c.group.state,
    previous: c.previous,
    requests: c.group.requests.map((r) => ({ id: String(r.id), state: r.state })),
    detail: c.detail,
    changed_at: c.group.modified,
  });
}

/** Starts the API and the scheduler on `transport`. */
export async function startObservatory(
  config: ObservatoryConfig,
  transport: Transport,
  log: Logger,
  overrides: { weatherFails?: (requestId: number, attempt: number) => boolean } = {},
): Promise<RunningObservatory> {
  await transport.ensureStream(STREAMS.observations);
  await transport.ensureStream(STREAMS.alertsIn);
  const enc: Encoders = await loadEncoders();
  const truth = await LightCurveTruth.load();
  const rng = seededRandom(config.KB_OBSERVATORY_SEED);
  const weather = seededRandom(config.KB_OBSERVATORY_SEED + 1);
  const facility = config.KB_OBSERVATORY_FACILITY;
  const topic = topicName("observatory", "optical");
  const te = new TextEncoder();
  let seq = 0;

  const publishExposure = async (e: Exposure) => {
    const mjd = e.at.getTime() / 86_400_000 + 40587;
    const m = truth.measure(e.target, e.filter, mjd, rng);
    const key = `${facility}/${e.group.id}/${e.group.requests[e.requestIndex].id}/` +
      `${e.configurationIndex}/${e.filter}`;
    const id = uuidV5(`observatory:${key}`);
    const candid = 900_000_000 + e.group.requests[e.requestIndex].id * 100 +
      e.configurationIndex * 10 +
      (seq % 10);
    const value = encodeOpticalAlert(enc, {
      schemavsn: "1.0",
      publisher: `${PUBLISHER} (simulated observatory)`,
      alert_id: id,
      object_id: e.target.name,
      survey: facility,
      candidate: opticalCandidate({
        candid,
        mjd,
        ra: e.target.ra,
        dec: e.target.dec,
        band: e.filter,
        mag: m.mag,
        magErr: m.magErr,
        upperLimit: false,
        system: "AB",
        instrument: `${facility}/${e.instrument}`,
        reference: `simulated ${e.site.code} airmass ${e.airmass.toFixed(2)} (${m.truth})`,
      }),
      prv_candidates: null,
    });
    const env = envelopeOf(
      topic,
      { format: "avro", value, id, key: e.target.name },
      seq++,
      "kb-observatory",
    );
    await transport.publish(SUBJECTS.alertsIn(env.kind), te.encode(JSON.stringify(env)), {
      msgId: `hop:${id}`,
    });
    log.info("exposure published", { key, mjd, mag: m.mag, band: e.filter });
  };

  const observatory = new Observatory({
    delayMs: config.KB_OBSERVATORY_DELAY_MS,
    failureLimit: config.KB_OBSERVATORY_FAILURE_LIMIT,
    weatherFails: overrides.weatherFails ??
      (() => weather.uniform() < config.KB_OBSERVATORY_FAILURE_RATE),
    onStatus: async (c) => {
      const ev = statusEvent(facility, c);
      await transport.publish(
        OBSERVATION_SUBJECTS.status(facility),
        te.encode(JSON.stringify(ev)),
        {
          msgId: `obs:${facility}:${ev.observation_id}:${
            ev.requests.map((r) => r.state[0]).join("")
          }:${ev.state}`,
        },
      );
      log.info("request group state", {
        id: ev.observation_id,
        state: ev.state,
        detail: ev.detail,
      });
    },
    onExposure: publishExposure,
    onError: (err) => log.error("observatory step failed", { error: err.message }),
    store: config.KB_OBSERVATORY_STATE_DIR
      ? fileStateStore(config.KB_OBSERVATORY_STATE_DIR, facility)
      : undefined,
  });
  const restored = await observatory.restore();
  if (observatory.options.store) {
    log.info("observatory state loaded", {
      file: observatory.options.store.location,
      ...restored,
    });
  }

  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.use("/api/*", async (c, next) => {
    const want = config.KB_OBSERVATORY_TOKEN;
    if (want && c.req.header("Authorization") !== `Token ${want}`) {
      return c.json({ detail: "Invalid token: send `Authorization: Token <api token>`" }, 401);
    }
    await next();
  });
  const body = async (c: { req: { json(): Promise<unknown> } }) => {
    const parsed = OcsRequestGroupInput.safeParse(await c.req.json().catch(() => undefined));
    if (!parsed.success) {
      throw new OcsError(400, {
        non_field_errors: parsed.error.issues.map((i) =>
          `${i.path.join(".") || "(body)"}: ${i.message}`
        ),
      });
    }
    return parsed.data;
  };
  app.post(
    "/api/requestgroups/validate/",
    async (c) => c.json(observatory.validate(await body(c))),
  );
  app.post("/api/requestgroups/", async (c) => {
    const { group, created } = observatory.submit(await body(c));
    await observatory.flush(); // accepted = saved: a restart after the answer keeps it
    return c.json(group, created ? 201 : 200);
  });
  app.get("/api/requestgroups/", (c) => {
    const all = observatory.list();
    return c.json({ count: all.length, next: null, previous: null, results: all });
  });
  app.get("/api/requestgroups/:id/", (c) => {
    const g = observatory.get(Number(c.req.param("id")));
    return g ? c.json(g) : c.json({ detail: "Not found." }, 404);
  });
  app.post("/api/requestgroups/:id/cancel/", async (c) => {
    const group = observatory.cancel(Number(c.req.param("id")));
    await observatory.flush();
    return c.json(group);
  });
  app.onError((err, c) => {
    if (err instanceof OcsError) return c.json(err.body, err.status);
    log.error("request failed", { path: c.req.path, error: err.message });
    return c.json({ detail: "internal error (logged)" }, 500);
  });

  const server = Deno.serve({
    hostname: config.KB_OBSERVATORY_HOST,
    port: config.KB_OBSERVATORY_PORT,
    onListen: () => {},
  }, app.fetch);
  const url = `http://${config.KB_OBSERVATORY_HOST}:${(server.addr as Deno.NetAddr).port}`;
  log.info("observatory ready", { url, facility });
  return {
    url,
    observatory,
    async stop() {
      observatory.close();
      await server.shutdown();
      await observatory.flush().catch(() => {}); // a failed save was logged by onError
    },
  };
}
