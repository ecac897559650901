/** The audit row's detail: diffs and the size bound. */
import assert from "node:assert/strict";
import { AUDIT_DETAIL_MAX_CHARS, boundedDetail, diff } from "./record.ts";

Deno.test("diff: only changed fields, compared as JSON, missing = null", () => {
  assert.deepEqual(
    diff({ ra: 1, dec: 2, groups: ["a"] }, { ra: 1, dec: 3, groups: ["a"], note: "x" }),
    { dec: { from: 2, to: 3 }, note: { from: null, to: "x" } },
  );
  assert.deepEqual(diff({ ra: 1, dec: 2 }, { ra: 5, dec: 9 }, ["ra"]), { ra: { from: 1, to: 5 } });
});

Deno.test("boundedDetail: small details whole, large ones summarised", () => {
  const small = { name: "AT2017gfo" };
  assert.equal(boundedDetail(small), small);
  const big = boundedDetail({ payload: "x".repeat(AUDIT_DETAIL_MAX_CHARS) });
  assert.equal(big.truncated, true);
  assert.deepEqual(big.keys, ["payload"]);
  assert.equal((big.prefix as string).length, 1_000);
  assert.ok((big.json_chars as number) > AUDIT_DETAIL_MAX_CHARS);
});
