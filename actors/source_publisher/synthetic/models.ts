/**
 * Parametrised light-curve models of the synthetic sky, giving the apparent AB
 * magnitude of the transient's (difference-image) flux in a band at a time.
 *
 * - Kilonova: two-component radioactive-decay model (blue lanthanide-poor and
 *   red lanthanide-rich ejecta; Metzger 2017, Villar et al. 2017): r-process
 *   heating ε(t) ∝ t^-1.3, diffusion time t_d = √(2κM/(βvc)), luminosity
 *   L = M ε (1 − e^{−(t/t_d)²}), photosphere R = vt cooling to a temperature
 *   floor, each component a blackbody; the two fluxes add.
 * - Type Ia: smooth rise x² e^{2(1−x)} (x = phase / rise time, rise 15–20 d),
 *   then per-band linear declines (fast for 30 d, slow afterwards).
 * - Type II-P: short rise, plateau with slow decline (faster in blue), drop,
 *   radioactive tail.
 * - Type Ib/c: rise 10–20 d, decline ~0.07 mag/d.
 * - FBOT (AT2018cow-like): rise 1–3 d to −19.5…−21, fading 0.2–0.3 mag/d, very blue.
 * - M-dwarf flare: minutes-long rise, exponential decay over ~0.01–0.05 d, Galactic
 *   distance (parsecs), strongest in blue.
 *
 * @module
 */
import type { TransientClass } from "../../../contracts/mod.ts";
import { SURVEY_BAND_WAVELENGTH } from "../bands.ts";
import type { Rng } from "./rng.ts";

const C = 2.998e10;
const SIGMA_SB = 5.6704e-5;
const H = 6.626e-27;
const K_B = 1.3807e-16;
const MSUN = 1.989e33;
const DAY = 86_400;
const MPC = 3.0857e24;

/** Model parameters of one transient (all numbers, so they fit the truth record). */
export type ModelParams = Record<string, number>;

/** Distance modulus of a distance in Mpc. */
export function distanceModulus(mpc: number): number {
  return 5 * Math.log10(mpc * 1e6) - 5;
}

function planckNu(nu: number, t: number): number {
  return (2 * H * nu ** 3) / (C * C) / Math.expm1((H * nu) / (K_B * t));
}

/** AB magnitude of a blackbody photosphere of radius R (cm) and temperature T (K) at D (cm). */
function blackbodyFnu(nu: number, tK: number, rCm: number, dCm: number): number {
  return (Math.PI * planckNu(nu, tK) * rCm * rCm) / (dCm * dCm);
}

function fnuToAb(fnu: number): number {
  return fnu > 0 ? -2.5 * Math.log10(fnu) - 48.6 : Infinity;
}

/** One kilonova ejecta component. */
interface Component {
  mej: number;
  v: number;
  kappa: number;
  tFloor: number;
}

/** r-process heating rate per gram (Korobkin et al. 2012) with 50% thermalisation, erg/s/g. */
function heating(tSec: number): number {
  const x = 0.5 - Math.atan((tSec - 1.3) / 0.11) / Math.PI;
  return 4e18 * 0.5 * Math.pow(x, 1.3);
}

/** Time grid (days) of the precomputed luminosities: log-spaced 0.01–60 d. */
const GRID_N = 120;
const GRID_T = Float64Array.from(
  { length: GRID_N },
  (_, i) => 0.01 * Math.pow(6000, i / (GRID_N - 1)),
);

/**
 * Bolometric luminosity of one component on the time grid: Arnett's solution,
 * L(t) = e^{-(t/t_d)²} ∫₀ᵗ 2 M ε(t') (t'/t_d) e^{(t'/t_d)²} dt'/t_d.
 */
function arnettGrid(c: Component): Float64Array {
  const m = c.mej * MSUN;
  const td = Math.sqrt((2 * c.kappa * m) / (13.8 * c.v * C * C)) / DAY;
  const out = new Float64Array(GRID_N);
  let integral = 0;
  let prevT = 0;
  let prevF = 0;
  // Integrate in scaled form to avoid overflow: accumulate ∫ f(t') e^{(t'² - t²)/td²}.
  for (let i = 0; i < GRID_N; i++) {
    const t = GRID_T[i];
    const steps = 8;
    for (let s = 1; s <= steps; s++) {
      const tt = prevT + ((t - prevT) * s) / steps;
      const f = 2 * m * heating(tt * DAY) * (tt / td) / td;
      const dt = (t - prevT) / steps;
      // Rescale the running integral from e^{prev²} to e^{tt²} weighting.
      const prevTT = prevT + ((t - prevT) * (s - 1)) / steps;
      integral = integral * Math.exp((prevTT * prevTT - tt * tt) / (td * td)) +
        0.5 * dt * (f + prevF * Math.exp((prevTT * prevTT - tt * tt) / (td * td)));
      prevF = f;
    }
    prevT = t;
    out[i] = integral;
  }
  return out;
}

interface ComponentModel extends Component {
  lum: Float64Array;
}

const CACHE = new WeakMap<ModelParams, ComponentModel[]>();

function components(p: ModelParams): ComponentModel[] {
  let cs = CACHE.get(p);
  if (!cs) {
    const blue = { mej: p.mej_blue, v: p.v_blue, kappa: p.kappa_blue, tFloor: p.tfloor_blue };
    const red = { mej: p.mej_red, v: p.v_red, kappa: p.kappa_red, tFloor: p.tfloor_red };
    cs = [blue, red].map((c) => ({ ...c, lum: arnettGrid(c) }));
    CACHE.set(p, cs);
  }
  return cs;
}

function lumAt(c: ComponentModel, tDay: number): number {
  if (tDay <= GRID_T[0]) return c.lum[0] * (tDay / GRID_T[0]) ** 2;
  if (tDay >= GRID_T[GRID_N - 1]) return c.lum[GRID_N - 1];
  const x = (Math.log(tDay / 0.01) / Math.log(6000)) * (GRID_N - 1);
  const i = Math.floor(x);
  const f = x - i;
  // Interpolate in log L.
  return Math.exp(Math.log(c.lum[i]) * (1 - f) + Math.log(c.lum[i + 1]) * f);
}

function componentFnu(c: ComponentModel, tDay: number, nu: number, dCm: number): number {
  if (tDay <= 0) return 0;
  const lum = lumAt(c, tDay);
  let r = c.v * C * tDay * DAY;
  let temp = Math.pow(lum / (4 * Math.PI * SIGMA_SB * r * r), 0.25);
  if (temp < c.tFloor) {
    temp = c.tFloor;
    r = Math.sqrt(lum / (4 * Math.PI * SIGMA_SB * temp ** 4));
  }
  return blackbodyFnu(nu, temp, r, dCm);
}

/** Apparent AB magnitude of a two-component kilonova `tDay` days after the merger. */
export function kilonovaMag(p: ModelParams, tDay: number, band: string): number {
  const nu = C / (SURVEY_BAND_WAVELENGTH[band] * 1e-8);
  const d = p.distance_mpc * MPC;
  const [blue, red] = components(p);
  return fnuToAb(componentFnu(blue, tDay, nu, d) + componentFnu(red, tDay, nu, d));
}

const IA_OFFSET: Record<string, number> = { u: 0.5, g: 0, r: 0.05, i: 0.6, z: 0.6, y: 0.7 };
const IA_DECLINE: Record<string, number> = {
  u: 0.12,
  g: 0.07,
  r: 0.045,
  i: 0.035,
  z: 0.03,
  y: 0.03,
};
const IIP_OFFSET: Record<string, number> = { u: 0.2, g: -0.1, r: 0, i: 0.1, z: 0.15, y: 0.2 };
const IIP_PLATEAU: Record<string, number> = {
  u: 0.05,
  g: 0.025,
  r: 0.006,
  i: 0.004,
  z: 0.003,
  y: 0.003,
};
const IBC_OFFSET: Record<string, number> = { u: 0.8, g: 0.3, r: 0, i: 0, z: 0.05, y: 0.1 };
const IBC_DECLINE: Record<string, number> = {
  u: 0.12,
  g: 0.09,
  r: 0.07,
  i: 0.06,
  z: 0.05,
  y: 0.05,
};
const FBOT_OFFSET: Record<string, number> = { u: -0.6, g: 0, r: 0.4, i: 0.7, z: 0.9, y: 1.0 };
const FBOT_DECLINE: Record<string, number> = { u: 1.3, g: 1, r: 0.85, i: 0.75, z: 0.7, y: 0.7 };
const FLARE_OFFSET: Record<string, number> = { u: -1, g: 0, r: 1, i: 1.8, z: 2.3, y: 2.6 };

/** Smooth rise to a peak at x = 1 (x = phase / rise time): the magnitude offset. */
function riseMag(x: number): number {
  if (x <= 0) return Infinity;
  const f = x * x * Math.exp(2 * (1 - x));
  return -2.5 * Math.log10(f);
}

/** Apparent magnitude of a model at `tDay` days after its t0 (explosion, merger or flare start). */
export function modelMag(cls: TransientClass, p: ModelParams, tDay: number, band: string): number {
  const mu = distanceModulus(p.distance_mpc);
  switch (cls) {
    case "kilonova":
      return kilonovaMag(p, tDay, band);
    case "SN Ia": {
      if (tDay <= 0) return Infinity;
      const peak = p.peak_abs_mag + mu + IA_OFFSET[band];
      if (tDay < p.rise_days) return peak + riseMag(tDay / p.rise_days);
      const dt = tDay - p.rise_days;
      const k = IA_DECLINE[band] * p.decline_scale;
      return peak + k * Math.min(dt, 30) + 0.015 * Math.max(0, dt - 30);
    }
    case "SN II-P": {
      if (tDay <= 0) return Infinity;
      const peak = p.peak_abs_mag + mu + IIP_OFFSET[band];
      if (tDay < p.rise_days) return peak + riseMag(tDay / p.rise_days);
      const dt = tDay - p.rise_days;
      if (dt < p.plateau_days) return peak + IIP_PLATEAU[band] * dt;
      const end = peak + IIP_PLATEAU[band] * p.plateau_days;
      const drop = dt - p.plateau_days;
      return end + Math.min(drop, 20) * 0.1 + 0.01 * Math.max(0, drop - 20);
    }
    case "SN Ib/c": {
      if (tDay <= 0) return Infinity;
      const peak = p.peak_abs_mag + mu + IBC_OFFSET[band];
      if (tDay < p.rise_days) return peak + riseMag(tDay / p.rise_days);
      const dt = tDay - p.rise_days;
      return peak + IBC_DECLINE[band] * Math.min(dt, 30) + 0.02 * Math.max(0, dt - 30);
    }
    case "FBOT": {
      if (tDay <= 0) return Infinity;
      const peak = p.peak_abs_mag + mu + FBOT_OFFSET[band];
      if (tDay < p.rise_days) return peak + riseMag(tDay / p.rise_days);
      return peak + FBOT_DECLINE[band] * p.decline_g * (tDay - p.rise_days);
    }
    case "M-dwarf flare": {
      if (tDay <= 0) return Infinity;
      const peak = p.peak_abs_mag + mu + FLARE_OFFSET[band];
      if (tDay < p.rise_days) return peak + 2.5 * (1 - tDay / p.rise_days) * 4;
      return peak + (2.5 / Math.LN10) * ((tDay - p.rise_days) / p.decay_days);
    }
  }
}

/** Draws model parameters for a class; `distanceMpc` when the position fixes it (kilonova from the map). */
export function drawParams(cls: TransientClass, rng: Rng, distanceMpc?: number): ModelParams {
  const volumetric = (lo: number, hi: number) => Math.cbrt(rng.between(lo ** 3, hi ** 3));
  switch (cls) {
    case "kilonova":
      return {
        distance_mpc: distanceMpc ?? volumetric(20, 200),
        mej_blue: rng.between(0.01, 0.04),
        v_blue: rng.between(0.2, 0.3),
        kappa_blue: 0.5,
        tfloor_blue: rng.between(3500, 5000),
        mej_red: rng.between(0.02, 0.08),
        v_red: rng.between(0.08, 0.2),
        kappa_red: rng.between(5, 15),
        tfloor_red: rng.between(2000, 3000),
      };
    case "SN Ia":
      return {
        distance_mpc: volumetric(30, 600),
        peak_abs_mag: rng.gauss(-19.1, 0.25),
        rise_days: rng.between(15, 20),
        decline_scale: rng.between(0.8, 1.25),
      };
    case "SN II-P":
      return {
        distance_mpc: volumetric(10, 250),
        peak_abs_mag: rng.between(-17.5, -16),
        rise_days: rng.between(5, 10),
        plateau_days: rng.between(80, 120),
      };
    case "SN Ib/c":
      return {
        distance_mpc: volumetric(10, 300),
        peak_abs_mag: rng.between(-18, -16.5),
        rise_days: rng.between(10, 20),
      };
    case "FBOT":
      return {
        distance_mpc: volumetric(20, 800),
        peak_abs_mag: rng.between(-21, -19.5),
        rise_days: rng.between(1, 3),
        decline_g: rng.between(0.2, 0.3),
      };
    case "M-dwarf flare":
      return {
        // Galactic: tens to hundreds of parsecs, in Mpc.
        distance_mpc: rng.between(20, 500) * 1e-6,
        peak_abs_mag: rng.between(8, 12),
        rise_days: rng.between(0.001, 0.005),
        decay_days: rng.between(0.01, 0.05),
      };
  }
}
