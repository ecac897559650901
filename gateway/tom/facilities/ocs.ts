/**
 * The Las Cumbres Observatory OCS API shape (the part the TOM uses): a
 * RequestGroup of requests, each with windows and configurations, as
 * `POST /api/requestgroups/`, `POST /api/requestgroups/validate/` and
 * `POST /api/requestgroups/{id}/cancel/` take and return it. Shared by the LCO
 * facility (client) and the simulated observatory (server).
 *
 * @module
 */
import { z } from "zod";
import { ObservationState } from "../../../contracts/messages.ts";

/** One instrument configuration: exposure time and count in a filter. */
export const OcsInstrumentConfig = z.object({
  exposure_time: z.number().positive().max(3600),
  exposure_count: z.number().int().positive().max(100),
  optical_elements: z.object({ filter: z.string().min(1) }),
});

/** A configuration: what to do, on which target, under which constraints. */
export const OcsConfiguration = z.object({
  type: z.enum(["EXPOSE", "REPEAT_EXPOSE"]).default("EXPOSE"),
  instrument_type: z.string().min(1),
  instrument_configs: z.array(OcsInstrumentConfig).min(1),
  target: z.object({
    name: z.string().min(1),
    type: z.literal("ICRS").default("ICRS"),
    ra: z.number().min(0).max(360),
    dec: z.number().min(-90).max(90),
  }),
  constraints: z.object({
    max_airmass: z.number().min(1).max(25).default(1.6),
    min_lunar_distance: z.number().min(0).max(180).default(30),
  }),
});

/** One request: a location, the windows it may be done in and its configurations. */
export const OcsRequest = z.object({
  id: z.number().int().optional(),
  state: ObservationState.optional(),
  location: z.object({ telescope_class: z.string().min(1), site: z.string().optional() }),
  windows: z.array(
    z.object({ start: z.iso.datetime({ offset: true }), end: z.iso.datetime({ offset: true }) }),
  ).min(1),
  configurations: z.array(OcsConfiguration).min(1),
});

/** A request group as submitted. */
export const OcsRequestGroupInput = z.object({
  name: z.string().min(1).max(150),
  proposal: z.string().min(1),
  observation_type: z.enum(["NORMAL", "RAPID_RESPONSE", "TIME_CRITICAL"]).default("NORMAL"),
  operator: z.enum(["SINGLE", "MANY"]).default("SINGLE"),
  ipp_value: z.number().min(0.5).max(2).default(1.05),
  requests: z.array(OcsRequest).min(1),
});
/** A request group as submitted. */
export type OcsRequestGroupInput = z.infer<typeof OcsRequestGroupInput>;

/** A request group as the facility returns it. */
export const OcsRequestGroup = OcsRequestGroupInput.extend({
  id: z.number().int(),
  state: ObservationState,
  created: z.string(),
  modified: z.string(),
  requests: z.array(OcsRequest.extend({ id: z.number().int(), state: ObservationState })),
});
/** A request group as the facility returns it. */
export type OcsRequestGroup = z.infer<typeof OcsRequestGroup>;

/** The answer of `POST /api/requestgroups/validate/`. */
export const OcsValidation = z.object({
  /** Observable minutes per request index (the simulated observatory's "duration"). */
  request_durations: z.record(z.string(), z.number()),
  /** Errors; `requests[i]` names what is wrong with request i (empty object when valid). */
  errors: z.object({
    non_field_errors: z.array(z.string()).optional(),
    requests: z.array(z.record(z.string(), z.array(z.string()))).optional(),
  }).passthrough(),
});
/** A validation answer. */
export type OcsValidation = z.infer<typeof OcsValidation>;

/** States after which nothing changes. */
export const TERMINAL_STATES: readonly ObservationState[] = [
  "COMPLETED",
  "WINDOW_EXPIRED",
  "FAILURE_LIMIT_REACHED",
  "CANCELED",
];
