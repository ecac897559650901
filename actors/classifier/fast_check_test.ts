import assert from "node:assert/strict";
import { OpticalAlertContent } from "../../contracts/messages.ts";
import { loadDataset } from "../source_publisher/mod.ts";
import { handleEnvelope } from "./actor.ts";
import { isOpticalAlertContent } from "./fast_check.ts";
import { ClassifierState } from "./state.ts";
import { envelope, gfoAlerts } from "./testing.ts";

const BAD_VALUES: unknown[] = [
  undefined,
  null,
  "",
  "x",
  0,
  -1,
  -0.5,
  0.5,
  361,
  -91,
  2 ** 53,
  NaN,
  Infinity,
  -Infinity,
  true,
  [],
  {},
];

/** Every record with one field (of the alert or of a point) replaced by each bad value or removed. */
function* mutations(a: OpticalAlertContent): Generator<[string, unknown]> {
  const clone = () => structuredClone(a) as Record<string, unknown>;
  for (const key of Object.keys(a)) {
    for (const v of BAD_VALUES) {
      const m = clone();
      if (v === undefined) delete m[key];
      else m[key] = v;
      yield [`${key}=${String(v)}`, m];
    }
  }
  const points: [string, (m: Record<string, unknown>) => Record<string, unknown> | undefined][] = [
    ["candidate", (m) => m.candidate as Record<string, unknown>],
    ["prv_candidates[0]", (m) => (m.prv_candidates as Record<string, unknown>[] | null)?.[0]],
  ];
  for (const [where, pick] of points) {
    if (!pick(clone())) continue;
    for (const key of Object.keys(a.candidate)) {
      for (const v of BAD_VALUES) {
        const m = clone();
        const p = pick(m)!;
        if (v === undefined) delete p[key];
        else p[key] = v;
        yield [`${where}.${key}=${String(v)}`, m];
      }
    }
  }
  yield ["not an object", [a]];
  yield ["null", null];
  yield ["sparse prv_candidates", { ...a, prv_candidates: new Array(2) }];
}

Deno.test("fast check: accepts the valid alerts and agrees with zod on every broken one", async () => {
  const ds = await loadDataset();
  const alerts = gfoAlerts(ds);
  const withHistory = alerts.find((a) => (a.prv_candidates?.length ?? 0) > 2)!;
  const first = alerts[0];
  assert.equal(first.prv_candidates, null);
  let rejected = 0;
  for (const a of alerts) {
    assert.ok(OpticalAlertContent.safeParse(a).success);
    assert.ok(isOpticalAlertContent(a), `valid alert ${a.alert_id} not accepted by the fast check`);
  }
  for (const a of [first, withHistory]) {
    for (const [what, m] of mutations(a)) {
      const zod = OpticalAlertContent.safeParse(m).success;
      const fast = isOpticalAlertContent(m);
      // Soundness: never valid when zod says invalid; and the same verdict on these cases.
      assert.equal(fast, zod, `${what}: fast check ${fast}, zod ${zod}`);
      if (!zod) rejected++;
    }
  }
  assert.ok(rejected > 300, `only ${rejected} broken records were tried`);
});

Deno.test("fast check: an invalid record is still rejected with zod's message", async () => {
  const ds = await loadDataset();
  const a = gfoAlerts(ds)[3];
  const bad = { ...a, candidate: { ...a.candidate, ra: 400 } };
  await assert.rejects(
    () => handleEnvelope(envelope("optical", bad, 1), "m1", new ClassifierState()),
    (e: Error) => /optical alert m1 record 0: .*candidate.*ra|ra.*360/s.test(e.message),
  );
});

Deno.test("fast check: unknown keys of a valid record do not change the result", async () => {
  const ds = await loadDataset();
  const alerts = gfoAlerts(ds).slice(0, 40);
  const plain = new ClassifierState();
  const extra = new ClassifierState();
  const now = new Date("2026-01-01T00:00:00Z");
  for (const [i, a] of alerts.entries()) {
    const withExtra = { ...a, extra_field: [1, 2], candidate: { ...a.candidate, x: "y" } };
    assert.ok(isOpticalAlertContent(withExtra));
    assert.deepEqual(
      extra.onOpticalAlert(withExtra, `m${i}`, now),
      plain.onOpticalAlert(OpticalAlertContent.parse(a), `m${i}`, now),
    );
  }
});
