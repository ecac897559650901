/**
 * The README's first command, as a test: the whole pipeline on the embedded
 * defaults replays GW170817 and ends with AT2017gfo as the top kilonova
 * candidate, every alert archived once, derived alerts filed as TOM targets,
 * one automatic observation request observed by the simulated observatory and
 * its photometry scored again, and the TOM answering the ready token.
 */
import { runDemo } from "./main.ts";
import { assertDemo } from "./testing.ts";

Deno.test({
  name: "demo: GW170817 end to end on the embedded defaults, AT2017gfo on top and followed up",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const run = await runDemo({ quiet: true });
    try {
      console.log(`demo (embedded): ${run.summary.seconds.toFixed(1)} s`);
      await assertDemo(run, "embedded");
    } finally {
      await run.stop();
    }
  },
});
