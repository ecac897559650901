/**
 * `POST /api/classify` on a TOM in process (embedded database, development
 * issuer tokens): the same report as `deno task classify --format json` for the
 * same light curve and options, roles, the documented 400s, the body limit,
 * and the OpenAPI document.
 */
import assert from "node:assert/strict";
import { loadDataset } from "../../../actors/source_publisher/mod.ts";
import { isoToMjd } from "../../../actors/classifier/state.ts";
import { GW170817_T0_ISO, multiOrderMap, toBase64 } from "../../../actors/classifier/testing.ts";
import { passwordToken, startTestTom } from "../testing.ts";
import { CLASSIFY_MAX_BODY_BYTES } from "./classify.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const ROOT = new URL("../../../", import.meta.url);
const FILE = new URL("actors/source_publisher/data/photometry_at2017gfo.csv", ROOT).pathname;

Deno.test(
  "POST /api/classify: same report as the CLI; roles, errors, size limit, OpenAPI",
  opts,
  async () => {
    const ds = await loadDataset();
    const t0 = isoToMjd(GW170817_T0_ISO);
    const { ra, dec } = ds.facts.counterpart;
    const mapBytes = await multiOrderMap(ds);
    const dir = await Deno.makeTempDir({ prefix: "kb-classify-http-" });
    const tom = await startTestTom({});
    try {
      const issuer = `${tom.url}/dev-oidc`;
      const client = { id: "tom-test", secret: "tom-test-dev-secret" };
      const observer = await passwordToken(issuer, client, "observer", "observer-pw");
      const nobody = await passwordToken(issuer, client, "nobody", "nobody-pw");
      const post = (body: unknown, token?: string) =>
        fetch(`${tom.url}/api/classify`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            ...(token ? { authorization: `Bearer ${token}` } : {}),
          },
          body: typeof body === "string" ? body : JSON.stringify(body),
        });

      // The CLI, as a process.
      const map = `${dir}/map.fits`;
      await Deno.writeFile(map, mapBytes);
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "actors/classifier/classify_cli.ts",
          FILE,
          "--format=json",
          `--t0=${t0}`,
          `--ra=${ra}`,
          `--dec=${dec}`,
          `--skymap=${map}`,
          "--event=S170817a",
          "--at=1,2,3,5,7",
        ],
        cwd: ROOT,
        stdin: "null",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      const [fromCli] = JSON.parse(new TextDecoder().decode(out.stdout));

      // The same input as JSON.
      const points = ds.at2017gfo.map((r) => ({
        mjd: r.mjd,
        band: r.band,
        mag: r.mag,
        mag_err: r.magErr,
        upper_limit: r.upperLimit,
        system: r.system,
      }));
      const body = {
        name: FILE,
        points,
        t0,
        ra,
        dec,
        skymap: toBase64(mapBytes),
        event_id: "S170817a",
        at: [1, 2, 3, 5, 7],
      };
      let res = await post(body, observer);
      const fromHttp = await res.json();
      assert.equal(res.status, 200, JSON.stringify(fromHttp));
      assert.deepEqual(fromHttp, fromCli);
      assert.equal(fromHttp.epochs.length, 5);
      assert.ok(fromHttp.epochs.every((e: { p_kilonova: number }) => e.p_kilonova >= 0.9));

      // Without a sky map: light curve only, flagged.
      res = await post({ points: points.slice(0, 200) }, observer);
      const lcOnly = await res.json();
      assert.equal(res.status, 200, JSON.stringify(lcOnly));
      assert.equal(lcOnly.source, "request");
      assert.equal(lcOnly.epochs[0].light_curve_only, true);

      // Roles: none → 401, no TOM role → 403.
      assert.equal((await post(body)).status, 401);
      assert.equal((await post(body, nobody)).status, 403);

      // The documented 400s.
      const bad = async (b: unknown, re: RegExp) => {
        const r = await post(b, observer);
        const j = await r.json();
        assert.equal(r.status, 400, JSON.stringify(j));
        assert.equal(j.error, "invalid_request");
        assert.match(j.message, re);
      };
      await bad(
        { points: [points[0], { ...points[1], band: "qq" }] },
        /^request: point 2, column band: unknown band "qq"; used: u g r i z y/,
      );
      await bad({ points: [{ ...points[0], mag: "x" }] }, /points\.0\.mag/);
      await bad({ points: [] }, /points/);
      await bad({ points, at: [1] }, /epochs \(--at\) need the merger time/);
      await bad({ points, skymap: toBase64(mapBytes) }, /skymap needs ra and dec/);
      await bad({ points, ra, dec, skymap: btoa("not fits") }, /not a FITS file/);
      await bad("{", /JSON|json/);

      // The body limit.
      const huge = JSON.stringify({ points, pad: "x".repeat(CLASSIFY_MAX_BODY_BYTES) });
      res = await post(huge, observer);
      const tooLarge = await res.json();
      assert.equal(res.status, 413);
      assert.equal(tooLarge.error, "too_large");

      // The OpenAPI document.
      const doc = await (await fetch(`${tom.url}/openapi.json`)).json();
      const op = doc.paths["/api/classify"]?.post;
      assert.ok(op, "POST /api/classify documented");
      assert.ok(op.responses["200"] && op.responses["413"] && op.responses["403"]);
      assert.ok(doc.components.schemas.ClassifyRequest);
      assert.ok(doc.components.schemas.LightCurveReport);
    } finally {
      await tom.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
