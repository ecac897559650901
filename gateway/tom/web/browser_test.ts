/**
 * The web pages in a real Chromium (Debian's, `KB_CHROMIUM`, driven by npm
 * playwright-core) against a TOM on the real Keycloak and PostgreSQL: AT2017gfo
 * and four contaminants arrive as derived alerts through the broker module;
 * `pi` logs in through Keycloak's login page, sees AT2017gfo on top, opens its
 * page, the light-curve plot is drawn (non-empty canvas), requests an
 * observation from the simulated observatory, and logs out — after which a new
 * login shows Keycloak's form again (its session ended too).
 *
 * The TOM listens on 127.0.0.1:18091, a redirect URI of the realm's `tom-web`
 * client. Screenshots go to `.local/artifacts/screenshots/`.
 */
import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { MemoryTransport } from "../../../actors/runtime/memory_transport.ts";
import { createLogger } from "../../../actors/runtime/log.ts";
import { waitFor } from "../../../actors/runtime/testing.ts";
import { loadObservatoryConfig, startObservatory } from "../../../actors/observatory/server.ts";
import { loadDataset } from "../../../actors/source_publisher/dataset.ts";
import { RESULT_SUBJECTS } from "../../../contracts/names.ts";
import type { DerivedAlertOutbound } from "../../../contracts/messages.ts";
import { createTestDatabase, derivedAlert, keycloak, startTestTom } from "../testing.ts";

const SHOTS = new URL("../../../.local/artifacts/screenshots/", import.meta.url);
/** A port the realm's tom-web client lists among its redirect URIs. */
const PORT = "18091";
const EVENT = "S170817a";
const MERGER = "2017-08-17T12:41:04Z";

function need(name: string): string {
  const v = Deno.env.get(name);
  if (!v) {
    throw new Error(
      `${name} is not set: run the suite with \`./kb task test\` (it installs Chromium with ` +
        "deploy/local/chromium.sh and starts Keycloak and PostgreSQL)",
    );
  }
  return v;
}

/** A derived alert with photometry (detections and upper limits). */
function alertWith(
  a: Parameters<typeof derivedAlert>[0],
  rows: { mjd: number; band: string; mag: number; magErr: number | null; upperLimit: boolean }[],
): DerivedAlertOutbound {
  const alert = derivedAlert(a);
  alert.content.data.photometry = rows.map((r) => ({
    target_name: a.name,
    date_obs: new Date((r.mjd - 40587) * 86_400_000).toISOString(),
    mjd: r.mjd,
    telescope: "literature",
    instrument: "various",
    bandpass: r.band,
    ...(r.upperLimit
      ? { limiting_brightness: r.mag }
      : { brightness: r.mag, ...(r.magErr === null ? {} : { brightness_error: r.magErr }) }),
    brightness_unit: "AB mag" as const,
  }));
  return alert;
}

Deno.test({
  name: "browser: Keycloak login as pi → AT2017gfo on top → light curve drawn → request → logout",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const executablePath = need("KB_CHROMIUM");
    const kc = keycloak();
    const webSecret = need("KB_OIDC_WEB_CLIENT_SECRET");
    await Deno.mkdir(SHOTS, { recursive: true });
    const data = await loadDataset();
    const db = await createTestDatabase("tom_browser");
    const transport = new MemoryTransport();
    const log = createLogger({ level: "error" });
    const observatory = await startObservatory(
      loadObservatoryConfig({ KB_OBSERVATORY_PORT: "0", KB_OBSERVATORY_DELAY_MS: "3600000" }),
      transport,
      log,
    );
    const tom = await startTestTom({
      KB_DATABASE_URL: db.url,
      KB_OIDC_ISSUER: kc.issuer,
      KB_OIDC_AUDIENCE: kc.audience,
      KB_OIDC_WEB_CLIENT_SECRET: webSecret,
      KB_TOM_PORT: PORT,
      KB_TOM_BROKER: "true",
      KB_TOM_FACILITY_URL: observatory.url,
      // No automatic request: the one request is the person's.
      KB_TOM_STRATEGY: JSON.stringify({ minScore: 2 }),
    }, { transport });
    const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
    const shot = (name: string, page: import("playwright-core").Page) =>
      page.screenshot({ path: new URL(name, SHOTS).pathname, fullPage: true });
    try {
      // The archive's view of the event: its sky map and IGWN alert (what the broker links).
      const [{ id: mapId }] = await tom.sql<{ id: number }[]>`select 1 as id`;
      await tom.sql`insert into skymaps (sha256, superevent_id, first_alert_id, size, bytes)
        values (sha256(${data.bayestarMap}), ${EVENT}, ${mapId}, ${data.bayestarMap.length},
          ${data.bayestarMap})`;
      await tom.sql`insert into gw_events (alert_id, superevent_id, alert_type, time_created,
          event_time, far, skymap_sha256)
        values (1, ${EVENT}, 'PRELIMINARY', ${MERGER}, ${MERGER}, 3.1e-12,
          sha256(${data.bayestarMap}))`;

      // AT2017gfo (two classifications, the second confident) and four contaminants.
      const gfo = data.at2017gfo.filter((r) => r.mjd < 57995).slice(0, 120);
      const alerts: DerivedAlertOutbound[] = [
        alertWith({
          name: "AT2017gfo",
          ra: 197.450374,
          dec: -23.381495,
          resultId: "res-gfo-1",
          revision: 1,
          kilonova: 0.62,
          computedAt: "2017-08-18T01:00:00Z",
          eventId: EVENT,
        }, gfo.filter((r) => r.mjd < 57983.2)),
        alertWith({
          name: "AT2017gfo",
          ra: 197.450374,
          dec: -23.381495,
          resultId: "res-gfo-2",
          revision: 2,
          kilonova: 0.99,
          computedAt: "2017-08-19T01:00:00Z",
          eventId: EVENT,
        }, gfo),
        ...data.contaminants.slice(0, 4).map((c, i) =>
          alertWith({
            name: c.name,
            ra: 197.450374 + 0.6 * (i + 1),
            dec: -23.381495 + (i % 2 ? 0.5 : -0.5),
            resultId: `res-${c.name}`,
            revision: 1,
            kilonova: 0.05 + 0.1 * i,
            computedAt: "2017-08-19T02:00:00Z",
            eventId: EVENT,
          }, c.rows.slice(0, 30))
        ),
      ];
      const enc = new TextEncoder();
      for (const [i, a] of alerts.entries()) {
        await transport.publish(RESULT_SUBJECTS.derivedAlerts, enc.encode(JSON.stringify(a)), {
          msgId: `browser-${i}`,
        });
      }
      await waitFor("the broker files 5 targets", async () => {
        const [r] = await tom.sql<{ n: number; s: number | null }[]>`
          select count(*)::int as n, max(score) as s from tom_targets`;
        return r.n === 5 && r.s === 0.99 ? r : undefined;
      }, 30_000);

      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const problems: string[] = [];
      page.on("console", (m) => {
        if (m.type() === "error") problems.push(m.text());
      });
      page.on("pageerror", (e) => problems.push(e.message));

      // Log in through Keycloak's own login page.
      await page.goto(`${tom.url}/targets/`);
      await page.waitForSelector("#kc-login", { timeout: 30_000 });
      assert.ok(page.url().startsWith(kc.issuer), `on Keycloak: ${page.url()}`);
      await shot("01-keycloak-login.png", page);
      await page.fill("#username", "pi");
      await page.fill("#password", kc.users.pi);
      await page.click("#kc-login");
      await page.waitForURL(`${tom.url}/targets/`, { timeout: 30_000 });

      // AT2017gfo on top (the default order is P(kilonova), highest first).
      const first = await page.textContent("#targets tbody tr:first-child th");
      assert.equal(first?.trim(), "AT2017gfo");
      assert.equal(await page.locator("#targets tbody tr").count(), 5);
      assert.match(await page.textContent("header .who") ?? "", /pi \(pi\)/);
      await shot("02-targets.png", page);

      // Its page: the light curve is drawn on a non-empty canvas.
      await page.click("#targets tbody tr:first-child th a");
      await page.waitForSelector('#plot-lightcurve[data-rendered="true"] canvas');
      // Painted pixels, counted in the page (a string: Deno's type check has no DOM types);
      // uPlot paints on the next animation frame, so wait for ink.
      const ink = `(() => {
        const cv = document.querySelector("#plot-lightcurve canvas");
        const px = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
        let n = 0;
        for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
        return n;
      })()`;
      await page.waitForFunction(`${ink} > 2000`, undefined, { timeout: 10_000 }).catch(() => {});
      const inked = await page.evaluate(ink) as number;
      await shot("03-target-AT2017gfo.png", page);
      assert.ok(inked > 2_000, `light-curve canvas has ${inked} painted pixels`);
      await page.waitForSelector('#plot-score[data-rendered="true"] canvas');
      await page.waitForSelector('#plot-sky[data-rendered="true"] canvas');
      assert.equal((await page.textContent("#score"))?.trim(), "0.990");

      // Request an observation in a window when AT2017gfo was observable.
      await page.fill("#r-filters", "g,r,i");
      await page.fill("#r-start", "2017-08-18T18:00");
      await page.fill("#r-end", "2017-08-19T06:00");
      await page.click("#request-button");
      await page.waitForSelector(".notice, .error, [role=alert]");
      await shot("04-requested.png", page);
      assert.match(
        await page.textContent(".notice, .error, [role=alert]") ?? "",
        /Observation \d+ requested/,
      );
      assert.equal(
        (await page.textContent("#observations tbody tr:first-child .state"))?.trim(),
        "PENDING",
      );
      assert.equal(observatory.observatory.list().length, 1);

      await page.goto(`${tom.url}/events/`);
      await page.waitForSelector(`#plot-sky-${EVENT}[data-rendered="true"] canvas`);
      await shot("05-events.png", page);
      assert.deepEqual(problems, [], "no script error or CSP violation on the pages");

      // Log out: the TOM's session and Keycloak's end.
      await page.click("#logout");
      await page.waitForURL(`${tom.url}/auth/logged-out`, { timeout: 30_000 });
      await shot("06-logged-out.png", page);
      await page.goto(`${tom.url}/targets/`);
      await page.waitForSelector("#kc-login", { timeout: 30_000 });
      assert.ok(page.url().startsWith(kc.issuer), "a new login asks for the password again");
      await shot("07-login-again.png", page);
    } finally {
      await browser.close();
      await tom.stop();
      await observatory.stop();
      await db.drop();
    }
  },
});
