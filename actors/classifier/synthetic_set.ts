/**
 * Training and test sets from the project's synthetic sky
 * (actors/source_publisher/synthetic): light curves of kilonovae, SNe Ia/II-P/Ib/c,
 * FBOTs and M-dwarf flares in the 2017 BAYESTAR map of GW170817 with its
 * distances scaled (so the model sees kilonovae from ~25 to ~100 Mpc), under
 * three survey cadences, replayed point by point into a {@link LightCurve}.
 * A snapshot (feature vector) is taken at every detection, as the actor would
 * score it; a fraction of candidates is scored without the GW event.
 *
 * @module
 */
import { conditionalDistance, SkyMap } from "../../astro/mod.ts";
import { type TransientClass, TransientClass as TC } from "../../contracts/mod.ts";
import { Rng, type Survey, SyntheticSky, ZTF_LIKE } from "../source_publisher/synthetic/mod.ts";
import type { ScoreContext } from "./context.ts";
import { extractFeatures, NF } from "./features.ts";
import { BAND_WAVELENGTH, BANDS } from "./bands.ts";
import { LightCurve } from "./lightcurve.ts";

/** Merger time of GW170817, UTC MJD (data/README.md). */
export const GW170817_T0_MJD = 57982.52852314815;

/** The 2017 BAYESTAR map shipped with the source publisher. */
export const BAYESTAR_MAP_URL = new URL(
  "../source_publisher/data/skymap/bayestar_2017_G298107.flat.fits.gz",
  import.meta.url,
);

/** Classes in model order. */
export const CLASSES: readonly TransientClass[] = TC.options;

/** A deeper multi-band survey (DECam-like follow-up of a localization): griz nightly. */
export const DEEP_GRIZ: Survey = {
  name: "KB-SIM-DEEP",
  instrument: "Blanco/DECam-like",
  limits: { g: 23.2, r: 23.0, i: 22.7, z: 22.2 },
  limitScatter: 0.4,
  visits: [
    { band: "i", offsetDays: 0, everyNights: 1 },
    { band: "z", offsetDays: 0.01, everyNights: 1 },
    { band: "g", offsetDays: 0.03, everyNights: 1 },
    { band: "r", offsetDays: 0.05, everyNights: 1 },
  ],
  weatherLoss: 0.15,
  firstNightDays: 0.45,
};

/** A sparse red survey (i and r, g every other night, more weather loss). */
export const SPARSE_RI: Survey = {
  name: "KB-SIM-SPARSE",
  instrument: "1m-class",
  limits: { r: 21.5, i: 21.2, g: 21.3 },
  limitScatter: 0.35,
  visits: [
    { band: "i", offsetDays: 0, everyNights: 1 },
    { band: "r", offsetDays: 0.06, everyNights: 1 },
    { band: "g", offsetDays: 0.12, everyNights: 2 },
  ],
  weatherLoss: 0.3,
  firstNightDays: 0.45,
};

/** A_band / E(B−V) for R_V = 3.1 (Schlafly & Finkbeiner 2011, SDSS/PS1-like bands). */
export const EXTINCTION: Readonly<Record<string, number>> = {
  u: 4.24,
  g: 3.30,
  r: 2.29,
  i: 1.70,
  z: 1.26,
  y: 1.08,
};

const WAVELENGTH: Readonly<Record<string, number>> = Object.fromEntries(
  BANDS.map((b, i) => [b, BAND_WAVELENGTH[i]]),
);

/** Surveys the sets are drawn from. */
export const SURVEYS: readonly Survey[] = [ZTF_LIKE, DEEP_GRIZ, SPARSE_RI];

/** Distance scales applied to the map (×40 Mpc). */
export const DISTANCE_SCALES: readonly number[] = [0.6, 1, 1.6, 2.5];

/** A copy of a 3D map with every distance multiplied by `k`. */
export function scaleDistances(map: SkyMap, k: number): SkyMap {
  if (!map.distmu || !map.distsigma || !map.distnorm) return map;
  return new SkyMap({
    nside: map.nside,
    prob: map.prob,
    distmu: map.distmu.map((v) => v * k),
    distsigma: map.distsigma.map((v) => v * k),
    distnorm: map.distnorm.map((v) => v / (k * k)),
    meta: map.meta,
  });
}

/** One scored moment of one candidate. */
export interface Snapshot {
  readonly cls: number;
  readonly x: Float64Array;
  /** Nights with a detection so far. */
  readonly nights: number;
  /** True for the last detection of a night (what the per-night tables use). */
  readonly endOfNight: boolean;
  /** Candidate key (variant/index). */
  readonly candidate: string;
  readonly withGw: boolean;
}

/** Options of {@link syntheticSnapshots}. */
export interface SetOptions {
  /** Candidates per (survey × distance scale) variant. */
  readonly perVariant: number;
  readonly seed: number;
  /** Class mix (default: the generator's). */
  readonly mix?: Partial<Record<TransientClass, number>>;
  /** Fraction of candidates scored without the GW event. */
  readonly noGwFraction: number;
  /** Standard deviation of the per-candidate colour tilt, mag per 1000 Å. */
  readonly colourTilt: number;
  /** Largest Milky Way E(B−V) applied (uniform from 0). */
  readonly maxEbv: number;
  /** Fraction of candidates whose field was not observed before the merger. */
  readonly noHistoryFraction: number;
  /** Keep at most this many snapshots per candidate (the first two always). 0 = all. */
  readonly maxSnapshots: number;
}

/** Every snapshot of a synthetic set, deterministic for its options. */
export function* syntheticSnapshots(map: SkyMap, o: SetOptions): Generator<Snapshot> {
  let variant = 0;
  for (const survey of SURVEYS) {
    for (const k of DISTANCE_SCALES) {
      variant++;
      const scaled = scaleDistances(map, k);
      const sky = new SyntheticSky({
        n: o.perVariant,
        seed: o.seed * 1000 + variant,
        t0Mjd: GW170817_T0_MJD,
        map: scaled,
        mix: o.mix,
        survey,
      });
      const rng = new Rng(o.seed, 0xc1a55, variant);
      for (const c of sky.candidates()) {
        const withGw = rng.uniform() >= o.noGwFraction;
        const keepU = rng.uniform();
        // Sky coverage before the merger varies: full history, none (the field was first
        // observed after the GW alert), or a stale one (nothing in the last 10 days).
        const h = rng.uniform();
        const history = h < o.noHistoryFraction
          ? "none"
          : h < o.noHistoryFraction + 0.15
          ? "stale"
          : "full";
        if (!c.observations.some((x) => x.detected)) continue;
        let ctx: ScoreContext = { noGwReason: "no live GW event" };
        if (withGw) {
          const d = scaled.distanceAt(c.ra, c.dec);
          const los = d ? conditionalDistance(d.mu, d.sigma) : undefined;
          ctx = {
            gw: {
              eventId: "S170817a",
              t0Mjd: GW170817_T0_MJD,
              credibleLevel: scaled.credibleLevelAt(c.ra, c.dec),
              densityDeg2: scaled.densityAt(c.ra, c.dec),
              distanceMpc: los?.mean,
              distanceStdMpc: los?.std,
            },
          };
        }
        const cls = CLASSES.indexOf(c.truth.class);
        const lc = new LightCurve(c.objectId, c.ra, c.dec);
        // Milky Way reddening: real alerts are not extinction-corrected (AT2017gfo: E(B−V) ≈ 0.1).
        const ebv = rng.uniform() * o.maxEbv;
        // SED systematics: a random colour tilt (mag per 1000 Å about r), so single-epoch
        // colours count for what the models can promise and colour changes count more.
        const tilt = o.colourTilt * rng.normal();
        const t0 = GW170817_T0_MJD;
        const obs = c.observations.filter((x) =>
          history === "full" || x.mjd >= t0 || (history === "stale" && x.mjd < t0 - 10)
        );
        if (!obs.some((x) => x.detected)) continue;
        const snaps: Snapshot[] = [];
        for (let j = 0; j < obs.length; j++) {
          const x = obs[j];
          lc.add({
            mjd: x.mjd,
            band: x.band,
            mag: x.detected
              ? x.mag + ebv * (EXTINCTION[x.band] ?? 0) +
                tilt * ((WAVELENGTH[x.band] ?? 6231) - 6231) / 1000
              : null,
            magErr: x.detected ? x.magErr : null,
            limit: x.limit,
            upperLimit: !x.detected,
            id: j,
          });
          if (!x.detected) continue;
          const nextNight = j + 1 >= obs.length ||
            Math.floor(obs[j + 1].mjd - 0.5) !== Math.floor(x.mjd - 0.5);
          // End of night = no later detection this night.
          let endOfNight = nextNight;
          if (!endOfNight) {
            endOfNight = true;
            for (let q = j + 1; q < obs.length; q++) {
              if (Math.floor(obs[q].mjd - 0.5) !== Math.floor(x.mjd - 0.5)) break;
              if (obs[q].detected) {
                endOfNight = false;
                break;
              }
            }
          }
          snaps.push({
            cls,
            x: extractFeatures(lc, ctx),
            nights: lc.detectionNights,
            endOfNight,
            candidate: `${variant}/${c.index}`,
            withGw,
          });
        }
        if (o.maxSnapshots > 0 && snaps.length > o.maxSnapshots) {
          // Keep the first two and a seeded spread of the rest.
          const keep = new Set([0, 1]);
          const step = (snaps.length - 2) / (o.maxSnapshots - 2);
          for (let q = 0; q < o.maxSnapshots - 2; q++) {
            keep.add(2 + Math.min(snaps.length - 3, Math.floor((q + keepU) * step)));
          }
          yield* snaps.filter((_, q) => keep.has(q));
        } else {
          yield* snaps;
        }
      }
    }
  }
}

/** Number of features (re-exported for the scripts). */
export const N_FEATURES = NF;
