/**
 * Static assets of the web pages, served from memory under `/static/`: uPlot's
 * distribution files straight from its npm package (imported as text, so they
 * are pinned by import_map.json and the lock file like any dependency, and no
 * copy lives in this repository), and our own script and style sheet.
 *
 * @module
 */
import { Hono } from "hono";
import uplotJs from "uplot/dist/uPlot.iife.min.js" with { type: "text" };
import uplotCss from "uplot/dist/uPlot.min.css" with { type: "text" };
import appJs from "./assets/app.js" with { type: "text" };
import appCss from "./assets/app.css" with { type: "text" };

/** One asset. */
interface Asset {
  readonly body: string;
  readonly type: string;
  readonly etag: string;
}

async function asset(body: string, type: string): Promise<Asset> {
  const d = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
  const etag = `"${
    [...new Uint8Array(d)].slice(0, 12).map((b) => b.toString(16).padStart(2, "0")).join("")
  }"`;
  return { body, type, etag };
}

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

/** Paths of the assets, for the pages' `<script>` and `<link>` tags. */
export const ASSETS = {
  uplotJs: "/static/uPlot.iife.min.js",
  uplotCss: "/static/uPlot.min.css",
  appJs: "/static/app.js",
  appCss: "/static/app.css",
} as const;

/** The static routes (mount at `/`). */
export async function staticAssets(): Promise<Hono> {
  const files = new Map<string, Asset>([
    [ASSETS.uplotJs, await asset(uplotJs, JS)],
    [ASSETS.uplotCss, await asset(uplotCss, CSS)],
    [ASSETS.appJs, await asset(appJs, JS)],
    [ASSETS.appCss, await asset(appCss, CSS)],
  ]);
  const app = new Hono();
  app.get("/static/:file", (c) => {
    const a = files.get(c.req.path);
    if (!a) return c.text(`no asset ${c.req.path}`, 404);
    const headers = {
      "Content-Type": a.type,
      "Cache-Control": "public, max-age=3600, must-revalidate",
      ETag: a.etag,
    };
    if (c.req.header("if-none-match") === a.etag) return c.body(null, 304, headers);
    return c.body(a.body, 200, headers);
  });
  return app;
}
