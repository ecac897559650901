/**
 * The README's first command, as a test: the whole pipeline on the embedded
 * defaults replays GW170817 and ends with AT2017gfo as the top kilonova
 * candidate, every alert archived once, derived alerts filed as TOM targets,
 * and the TOM answering the ready token.
 */
import assert from "node:assert/strict";
import { runDemo } from "./main.ts";

Deno.test({
  name: "demo: GW170817 end to end on the embedded defaults puts AT2017gfo on top",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { summary, tomUrl, token, stop } = await runDemo({ quiet: true });
    try {
      const archived = Object.values(summary.alertsArchived).reduce((a, b) => a + b, 0);
      assert.equal(archived, summary.alertsIn, "every replayed alert archived exactly once");
      assert.ok(summary.alertsArchived["alerts.in.gw"] >= 1, "the IGWN alerts were archived");
      assert.deepEqual(summary.gwEvents, ["S170817a"]);
      assert.ok(summary.candidates >= 6, `candidates: ${summary.candidates}`);
      assert.ok(summary.results > 0 && summary.derivedAlerts > 0);
      assert.ok(summary.derivedAlerts < summary.results, "unchanged re-scores are not republished");
      assert.equal(summary.top[0]?.name, "AT2017gfo");
      assert.ok(summary.top[0].score >= 0.9, `AT2017gfo P(KN) ${summary.top[0].score}`);
      assert.deepEqual(summary.deadLetters, {});
      const res = await fetch(`${tomUrl}/api/targets/?limit=50`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 200);
      const body = await res.json();
      const names = JSON.stringify(body);
      assert.match(names, /AT2017gfo/, "the TOM lists AT2017gfo with the ready token");
    } finally {
      await stop();
    }
  },
});
