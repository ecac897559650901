// The TOM pages' plots, drawn with uPlot (served from /static/ with this file).
// Each `[data-plot]` element carries its data as JSON in `data-plot-data`; this
// script is the only code that runs on the pages (the CSP allows no inline
// script). After drawing, an element gets `data-rendered="true"`.
/* global uPlot */
"use strict";

const BAND_COLOURS = {
  u: "#6a3d9a",
  g: "#1b9e4b",
  r: "#d62728",
  i: "#8c564b",
  z: "#333333",
  y: "#7f7f7f",
  B: "#1f77b4",
  V: "#2ca02c",
  R: "#e377c2",
  I: "#bcbd22",
  J: "#17becf",
  H: "#9467bd",
  K: "#ff7f0e",
};
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];

function colourOf(band, i) {
  return BAND_COLOURS[band] ?? PALETTE[i % PALETTE.length];
}

function widthOf(el) {
  return Math.max(280, Math.min(900, el.clientWidth || 640));
}

/** Points only, no line (scatter on uPlot's aligned data). */
function pointsOnly(colour, size) {
  return {
    stroke: colour,
    fill: colour,
    paths: () => null,
    points: { show: true, size, stroke: colour, fill: colour },
    spanGaps: false,
  };
}

/**
 * Light curve: one series per band (detections as points); the band's upper
 * limits are drawn as arrows (towards fainter) by a draw hook, shown and hidden
 * with the band's legend entry. The view starts 3 days before the merger: the
 * much older pre-merger limits are in the data (drag to zoom, double-click resets).
 */
function lightCurve(el, data) {
  const bands = [...new Set(data.points.map((p) => p.band))].sort();
  const xs = [...new Set(data.points.map((p) => p.t))].sort((a, b) => a - b);
  const at = new Map(xs.map((x, i) => [x, i]));
  const det = bands.map(() => xs.map(() => null));
  const lim = bands.map(() => xs.map(() => null));
  for (const p of data.points) {
    const b = bands.indexOf(p.band);
    if (p.mag !== null) det[b][at.get(p.t)] = p.mag;
    else if (p.limit !== null) lim[b][at.get(p.t)] = p.limit;
  }
  const mags = data.points.map((p) => p.mag ?? p.limit);
  const yMin = Math.min(...mags) - 0.3;
  const yMax = Math.max(...mags) + 0.8;
  const after = xs.filter((x) => x >= -3);
  const xRange = data.t0 !== null && after.length && xs[0] < -3
    ? [-3, Math.max(...after) + 0.5]
    : null;
  const series = [{ label: data.t0 === null ? "MJD" : "days since merger" }];
  bands.forEach((b, i) => series.push({ label: b, ...pointsOnly(colourOf(b, i), 6) }));
  const arrows = (u) => {
    const ctx = u.ctx;
    const px = devicePixelRatio;
    bands.forEach((_b, bi) => {
      const s = u.series[1 + bi];
      if (!s.show) return;
      ctx.save();
      ctx.beginPath();
      ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
      ctx.clip();
      ctx.strokeStyle = s.stroke();
      ctx.lineWidth = 1.5 * px;
      lim[bi].forEach((m, i) => {
        if (m === null) return;
        const x = u.valToPos(xs[i], "x", true);
        const y = u.valToPos(m, "y", true);
        const len = 12 * px;
        ctx.beginPath();
        ctx.moveTo(x - 4 * px, y);
        ctx.lineTo(x + 4 * px, y);
        ctx.moveTo(x, y);
        ctx.lineTo(x, y + len);
        ctx.moveTo(x - 3 * px, y + len - 4 * px);
        ctx.lineTo(x, y + len);
        ctx.lineTo(x + 3 * px, y + len - 4 * px);
        ctx.stroke();
      });
      ctx.restore();
    });
  };
  return new uPlot(
    {
      width: widthOf(el),
      height: 340,
      series,
      scales: {
        x: { time: false, ...(xRange ? { range: xRange } : {}) },
        y: { dir: -1, range: [yMin, yMax] },
      },
      axes: [
        { label: data.t0 === null ? "MJD" : "days since the GW merger" },
        { label: "magnitude (AB)" },
      ],
      hooks: { draw: [arrows] },
    },
    [xs, ...det],
    el,
  );
}

/** Score history: P(kilonova) against computation time. */
function scoreHistory(el, data) {
  return new uPlot(
    {
      width: widthOf(el),
      height: 220,
      series: [
        { label: "computed" },
        { label: "P(kilonova)", stroke: "#d62728", width: 2, points: { show: true, size: 6 } },
      ],
      scales: { y: { range: [0, 1] } },
      axes: [{}, { label: "P(kilonova)" }],
    },
    [data.t, data.score],
    el,
  );
}

/** Sky: the credible region's pixel centres and the marked targets (RA grows to the left). */
function sky(el, data) {
  const marks = data.marks ?? [];
  const centre = marks.length ? marks[0].ra : data.region.ra[0] ?? 180;
  // RA as offset from the centre in [-180, 180), so a region across RA 0 stays whole.
  const off = (ra) => ((ra - centre + 540) % 360) - 180;
  const rows = [];
  data.region.ra.forEach((ra, i) => rows.push([off(ra), data.region.dec[i], null]));
  marks.forEach((m) => rows.push([off(m.ra), null, m.dec]));
  rows.sort((a, b) => a[0] - b[0]);
  return new uPlot(
    {
      width: Math.min(widthOf(el), 520),
      height: 360,
      series: [
        { label: `RA − ${centre.toFixed(2)}°`, value: (_u, v) => v === null ? "" : v.toFixed(2) },
        { label: "90% region", ...pointsOnly("#9ecae1", 5) },
        { label: marks.length === 1 ? marks[0].name : "candidates", ...pointsOnly("#d62728", 11) },
      ],
      scales: { x: { time: false, dir: -1 } },
      axes: [{ label: `RA offset from ${centre.toFixed(2)}° (degrees, east left)` }, {
        label: "Dec (degrees)",
      }],
    },
    [rows.map((r) => r[0]), rows.map((r) => r[1]), rows.map((r) => r[2])],
    el,
  );
}

const KINDS = { lightcurve: lightCurve, score: scoreHistory, sky };

function draw() {
  for (const el of document.querySelectorAll("[data-plot]")) {
    const kind = KINDS[el.dataset.plot];
    if (!kind) continue;
    try {
      kind(el, JSON.parse(el.dataset.plotData));
      el.dataset.rendered = "true";
    } catch (err) {
      el.dataset.rendered = "error";
      el.textContent = `The plot could not be drawn: ${err.message}`;
      console.error(err);
    }
  }
}

if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
else draw();
