/** The report keeps the rows of benches that have no result file in this checkout. */
import assert from "node:assert/strict";
import { tableRowsByBench } from "./report.ts";

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
