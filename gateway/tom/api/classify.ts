/**
 * `POST /api/classify`: the kilonova score of a light curve sent in the
 * request — the same input as `deno task classify` (points with the CSV's
 * field names, t0, position, optional sky map, epochs) and the same output
 * (one light-curve report), computed by the streaming classifier's own code
 * (`actors/classifier/on_demand.ts`). Role `observer` or above. Requests are
 * limited to {@link CLASSIFY_MAX_BODY_BYTES} bytes and
 * {@link CLASSIFY_MAX_POINTS} points.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import {
  LightCurveFileError,
  locateOnSkyMap,
  OnDemandError,
  parseLightCurveRecords,
  scoreParsed,
} from "../../../actors/classifier/mod.ts";
import { requireAccess } from "../auth/middleware.ts";
import { ApiError, AUTH_ERRORS, type TomApp } from "./common.ts";
import { ErrorBody } from "./schemas.ts";

/** Largest request body, bytes (a multi-order sky map in base64 fits comfortably). */
export const CLASSIFY_MAX_BODY_BYTES = 8 * 1024 * 1024;
/** Most points per request. */
export const CLASSIFY_MAX_POINTS = 20_000;
/** Most epochs per request. */
export const CLASSIFY_MAX_EPOCHS = 100;

const Point = z.object({
  mjd: z.number().min(40000).max(80000).openapi({
    description: "observation time, UTC MJD",
    example: 57983.0,
  }),
  band: z.string().min(1).max(20).openapi({ description: "filter label", example: "r" }),
  mag: z.number().min(-5).max(35).openapi({
    description: "magnitude; the limiting magnitude of an upper limit",
  }),
  mag_err: z.number().min(0).max(5).nullable().optional(),
  upper_limit: z.boolean(),
  system: z.enum(["AB", "Vega", ""]).nullable().optional().openapi({
    description: "magnitude system (default AB)",
  }),
}).passthrough().openapi("LightCurvePoint");

/** The request. */
export const ClassifyRequest = z.object({
  name: z.string().min(1).max(200).optional().openapi({
    description: "a name for the light curve (echoed as `source`)",
  }),
  points: z.array(Point).min(1).max(CLASSIFY_MAX_POINTS),
  t0: z.number().min(40000).max(80000).optional().openapi({
    description: "merger time, MJD (default: the sky map's MJD-OBS / DATE-OBS)",
  }),
  ra: z.number().min(0).max(360).optional(),
  dec: z.number().min(-90).max(90).optional(),
  skymap: z.string().min(1).optional().openapi({
    description: "GW sky map FITS (flat or multi-order, gzip or not), base64; needs ra and dec. " +
      "Without it the score is light-curve-only and flagged so.",
  }),
  event_id: z.string().min(1).max(100).optional().openapi({
    description: "event name (default: the sky map's OBJECT header)",
  }),
  at: z.array(z.number().min(-1).max(1000)).max(CLASSIFY_MAX_EPOCHS).optional().openapi({
    description: "epochs, days after t0: score with the data up to t0 + day",
  }),
}).openapi("ClassifyRequest");

const Epoch = z.object({
  epoch_days: z.number().nullable(),
  until_mjd: z.number().nullable(),
  points: z.number().int(),
  detections: z.number().int(),
  ignored_points: z.number().int(),
  p_kilonova: z.number().nullable(),
  label: z.string().nullable(),
  is_kilonova: z.boolean().nullable(),
  light_curve_only: z.boolean(),
  event_id: z.string().nullable(),
  scores: z.record(z.string(), z.number()).nullable(),
  model: z.object({ name: z.string(), version: z.string() }),
  features: z.record(z.string(), z.number().nullable()).nullable(),
  explanation: z.object({
    summary: z.string(),
    contributions: z.record(z.string(), z.number()),
  }).nullable(),
}).openapi("EpochScore");

/** The response: the same report `deno task classify --format json` prints per file. */
export const LightCurveReportSchema = z.object({
  source: z.string(),
  rows: z.number().int(),
  notes: z.array(z.string()),
  t0_mjd: z.number().nullable(),
  event_id: z.string().nullable(),
  epochs: z.array(Epoch),
}).openapi("LightCurveReport");

/** Registers `POST /api/classify`. */
export function registerClassify(app: TomApp): void {
  app.openapi(
    createRoute({
      method: "post",
      path: "/api/classify",
      tags: ["classifier"],
      summary: "Score a light curve with the kilonova classifier (same as `deno task classify`)",
      middleware: [
        requireAccess("read"),
        bodyLimit({
          maxSize: CLASSIFY_MAX_BODY_BYTES,
          onError: (c) =>
            c.json({
              error: "too_large",
              message: `request body over ${CLASSIFY_MAX_BODY_BYTES} bytes; send fewer points ` +
                "or a multi-order sky map",
            }, 413),
        }),
      ] as const,
      request: {
        body: { content: { "application/json": { schema: ClassifyRequest } }, required: true },
      },
      responses: {
        200: {
          description: "scores per epoch",
          content: { "application/json": { schema: LightCurveReportSchema } },
        },
        413: {
          description: `body over ${CLASSIFY_MAX_BODY_BYTES} bytes`,
          content: { "application/json": { schema: ErrorBody } },
        },
        ...AUTH_ERRORS,
      },
    }),
    async (c) => {
      const b = c.req.valid("json");
      const source = b.name ?? "request";
      try {
        const parsed = parseLightCurveRecords(b.points, source);
        if ((b.ra === undefined) !== (b.dec === undefined)) {
          throw new OnDemandError("give both ra and dec");
        }
        let event;
        if (b.skymap) {
          if (b.ra === undefined) throw new OnDemandError("skymap needs ra and dec");
          let bytes: Uint8Array;
          try {
            bytes = Uint8Array.from(atob(b.skymap), (ch) => ch.charCodeAt(0));
          } catch {
            throw new OnDemandError("skymap: not base64");
          }
          try {
            event = await locateOnSkyMap(
              bytes,
              "skymap",
              { ra: b.ra, dec: b.dec! },
              b.t0,
              b.event_id,
            );
          } catch (e) {
            if (e instanceof OnDemandError) throw e;
            throw new OnDemandError((e as Error).message);
          }
        }
        const report = scoreParsed(parsed, {
          t0Mjd: b.t0,
          at: b.at ?? [],
          event,
          ra: b.ra,
          dec: b.dec,
        });
        // Same object as the CLI prints (readonly arrays in its type only).
        return c.json(report as z.infer<typeof LightCurveReportSchema>, 200);
      } catch (e) {
        if (e instanceof LightCurveFileError || e instanceof OnDemandError) {
          throw new ApiError(400, "invalid_request", e.message);
        }
        throw e;
      }
    },
  );
}
