/** The report keeps the rows of benches without a result file here, and only default e2e runs. */
import assert from "node:assert/strict";
import { benchOfResultFile, knobsOf, tableRowsByBench } from "./report.ts";
import { benchKnobs, knobsText, resultFileName } from "./harness.ts";

Deno.test("tableRowsByBench: rows by bench name, header and separator left out", () => {
  const table = [
    "",
    "| bench      | metric        |  value | met |",
    "| ---------- | ------------- | -----: | --- |",
    "| runtime    | raw consume   | 1 msgs | yes |",
    "| db-pool    | select 1      |  17 µs |     |",
    "| runtime    | actor to actor | 2 msgs |     |",
    "not a row",
    "",
  ].join("\n");
  const rows = tableRowsByBench(table);
  assert.deepEqual([...rows.keys()], ["runtime", "db-pool"]);
  assert.deepEqual(rows.get("runtime"), [
    "| runtime    | raw consume   | 1 msgs | yes |",
    "| runtime    | actor to actor | 2 msgs |     |",
  ]);
  assert.equal(tableRowsByBench("").size, 0);
});

Deno.test("knobsOf: a run given KB_BENCH_E2E_* variables is named by them; a default run is not", () => {
  assert.equal(knobsOf({ details: {} }), undefined);
  assert.equal(knobsOf({ details: { knobs: {} } }), undefined);
  assert.equal(
    knobsOf({ details: { knobs: { KB_BENCH_E2E_BACKLOG: "300", KB_BENCH_E2E_RATES: "100" } } }),
    "KB_BENCH_E2E_BACKLOG=300 KB_BENCH_E2E_RATES=100",
  );
});

Deno.test("resultFileName: a run with knobs is written beside the default run, not over it", () => {
  const none = benchKnobs({ HOME: "/root", KB_DATABASE_URL: "postgres://x" });
  assert.deepEqual(none, {});
  assert.equal(resultFileName("e2e", knobsText(none)), "e2e.json");
  const set = benchKnobs({ KB_BENCH_TOM_SECONDS: "3", PATH: "/bin", KB_BENCH_E2E_RATES: "100" });
  assert.deepEqual(Object.keys(set), ["KB_BENCH_E2E_RATES", "KB_BENCH_TOM_SECONDS"]);
  assert.equal(knobsText(set), "KB_BENCH_E2E_RATES=100 KB_BENCH_TOM_SECONDS=3");
  assert.deepEqual(
    benchKnobs({ KB_BENCH_TOM_SECONDS: "3", KB_BENCH_E2E_RATES: "100" }, "KB_BENCH_E2E_"),
    {
      KB_BENCH_E2E_RATES: "100",
    },
  );
  assert.equal(resultFileName("tom", knobsText(set)), "tom.variant.json");
  // The report's table reads each bench's default run only: a variant is not taken for a bench.
  assert.equal(benchOfResultFile("e2e.json"), "e2e");
  assert.equal(benchOfResultFile("db-pool.json"), "db-pool");
  assert.equal(benchOfResultFile(resultFileName("tom", "K=1")), undefined);
  assert.equal(benchOfResultFile("e2e-run-0616.json"), undefined);
});
