/**
 * Turns features and tree contributions into a short explanation, e.g.
 * "P(KN) 0.97: fades 0.9 mag/day in g, red colour evolution (g−r +0.31 mag/day),
 * 40 Mpc implies M_i = −15.5, inside the 50% region of S170817a, first detected
 * 0.45 d after the merger".
 *
 * @module
 */
import { BANDS, NB } from "./bands.ts";
import type { ScoreContext } from "./context.ts";
import { FEATURE_NAMES } from "./features.ts";
import { type LightCurve, nightMag } from "./lightcurve.ts";

const F = Object.fromEntries(FEATURE_NAMES.map((n, i) => [n, i])) as Record<
  typeof FEATURE_NAMES[number],
  number
>;

function signed(v: number, digits = 2): string {
  return `${v >= 0 ? "+" : "−"}${Math.abs(v).toFixed(digits)}`;
}

function mag(v: number): string {
  return `${v < 0 ? "−" : ""}${Math.abs(v).toFixed(1)}`;
}

function region(level: number): string {
  for (const p of [0.5, 0.9, 0.95]) if (level <= p) return `inside the ${p * 100}% region`;
  return `outside the 95% region (level ${level.toFixed(2)})`;
}

/** The explanation string. `contrib` are contributions to the kilonova log-odds. */
export function explain(
  lc: LightCurve,
  ctx: ScoreContext,
  x: ArrayLike<number>,
  pKn: number,
  contrib: ArrayLike<number>,
): string {
  const parts: string[] = [];
  const ok = (name: keyof typeof F) => Number.isFinite(x[F[name]]);
  const v = (name: keyof typeof F) => x[F[name]];
  if (lc.nDet === 0) return `P(KN) ${pKn.toFixed(2)}: no detection yet`;
  const fade = ok("fade_g")
    ? ["g", v("fade_g")] as const
    : ok("fade_r")
    ? ["r", v("fade_r")] as const
    : ok("fade_i")
    ? ["i", v("fade_i")] as const
    : ok("fade_blue")
    ? ["its bluest band", v("fade_blue")] as const
    : undefined;
  if (fade) {
    parts.push(
      fade[1] >= 0
        ? `fades ${fade[1].toFixed(2)} mag/day in ${fade[0]}`
        : `brightens ${(-fade[1]).toFixed(2)} mag/day in ${fade[0]}`,
    );
  } else if (ok("fade_limit") && v("fade_limit") > 0) {
    parts.push(`fades ≥ ${v("fade_limit").toFixed(2)} mag/day (later non-detections)`);
  }
  if (ok("rise_rate") && v("rise_rate") > 0.02) {
    parts.push(
      `rose ${v("rise_rate").toFixed(2)} mag/day for ${v("t_peak_after_first").toFixed(1)} d`,
    );
  }
  if (ok("g_r_rate")) {
    const r = v("g_r_rate");
    parts.push(
      `${r > 0.05 ? "red" : r < -0.05 ? "blue" : "flat"} colour evolution (g−r ${
        signed(r)
      } mag/day)`,
    );
  } else if (ok("sed_slope_rate")) {
    const r = v("sed_slope_rate");
    parts.push(`${r > 0.05 ? "reddening" : r < -0.05 ? "bluening" : "steady colour"}`);
  } else if (ok("g_r_last")) {
    parts.push(`g−r = ${signed(v("g_r_last"))}`);
  } else if (ok("r_i_last")) {
    parts.push(`r−i = ${signed(v("r_i_last"))}`);
  }
  const gw = ctx.gw;
  if (gw) {
    if (gw.distanceMpc && ok("abs_mag_peak")) {
      // Band of the brightest nightly point.
      let best = Infinity, band = -1;
      for (const bin of lc.nights) {
        for (let b = 0; b < NB; b++) {
          const m = nightMag(bin, b);
          if (m < best) {
            best = m;
            band = b;
          }
        }
      }
      parts.push(
        `${gw.distanceMpc.toFixed(0)} Mpc implies M_${BANDS[band]} = ${mag(v("abs_mag_peak"))}`,
      );
    }
    parts.push(`${region(gw.credibleLevel)} of ${gw.eventId}`);
    if (v("n_pre_merger_det") > 0) {
      parts.push(
        `detected ${v("n_pre_merger_det")}× before the merger (from ${
          (-v("t_first_det")).toFixed(1)
        } d before)`,
      );
    } else {
      parts.push(`first detected ${v("t_first_det").toFixed(2)} d after the merger`);
    }
  } else {
    parts.push(`light curve only (${ctx.noGwReason ?? "no GW event"})`);
  }
  if (ok("ul_depth") && v("ul_depth") > 0 && v("ul_gap") < 10) {
    parts.push(
      `last non-detection ${v("ul_gap").toFixed(1)} d before, ≥ ${
        v("ul_depth").toFixed(1)
      } mag fainter`,
    );
  }
  // The model's own reasons: the two largest contributions for and against.
  const pro = [-1, -1], con = [-1, -1];
  for (let i = 0; i < contrib.length; i++) {
    const c = contrib[i];
    if (c > 0.2) {
      if (pro[0] < 0 || c > contrib[pro[0]]) [pro[1], pro[0]] = [pro[0], i];
      else if (pro[1] < 0 || c > contrib[pro[1]]) pro[1] = i;
    } else if (c < -0.2) {
      if (con[0] < 0 || c < contrib[con[0]]) [con[1], con[0]] = [con[0], i];
      else if (con[1] < 0 || c < contrib[con[1]]) con[1] = i;
    }
  }
  const names = (ix: number[]) => ix.filter((i) => i >= 0).map((i) => FEATURE_NAMES[i]).join(", ");
  const why = [
    pro[0] >= 0 ? `for: ${names(pro)}` : "",
    con[0] >= 0 ? `against: ${names(con)}` : "",
  ].filter(Boolean).join("; ");
  // Joined, not concatenated: `join` gives a flat string, concatenation a rope
  // (V8 cons string) that sends `JSON.stringify` of the whole result message
  // down its slow path (~2× the time; see docs/classifier.md, "CPU per alert").
  return ["P(KN) ", pKn.toFixed(2), ": ", parts.join(", "), why ? ` [${why}]` : ""].join("");
}
