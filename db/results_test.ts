/**
 * The locks of the batched results publisher: the locks of a batch are taken
 * in lock-id order whatever the order given (so two batches never deadlock).
 * The batched results insert: alert texts stored verbatim, rows in the given
 * order. (The light curves read for derived alerts are tested in
 * actors/results_publisher/derived_rows_test.ts.)
 */
import assert from "node:assert/strict";
import { waitFor } from "../actors/runtime/testing.ts";
import { resultFixture } from "../actors/results_publisher/testing.ts";
import {
  candidateModelKey,
  insertResults,
  lockCandidateModel,
  lockCandidateModels,
  type ResultToStore,
} from "./results.ts";
import { BACKENDS, createTestDatabase } from "./testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("lockCandidateModels (postgres): takes the locks in lock-id order", opts, async () => {
  const db = await createTestDatabase("postgres", { max: 4 });
  let release = () => {};
  try {
    const pairs = Array.from({ length: 20 }, (_, i) => ({ candidateId: `C${i}`, model: "m" }));
    const byHash = await db.sql<{ k: string }[]>`
      select k from unnest(${pairs.map((p) => candidateModelKey(p.candidateId, "m"))}::text[]) k
      order by hashtext(k)`;
    const highest = pairs.find((p) => candidateModelKey(p.candidateId, "m") === byHash.at(-1)!.k)!;
    // Another transaction holds the highest lock; ours asks for it first.
    const released = new Promise<void>((r) => release = r);
    let holding!: () => void;
    const held = new Promise<void>((r) => holding = r);
    const holder = db.sql.begin(async (tx) => {
      await lockCandidateModel(tx, highest.candidateId, "m");
      holding();
      await released;
    });
    await held;
    let pid: number | undefined;
    const locker = db.sql.begin(async (tx) => {
      [{ pid }] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
      await lockCandidateModels(tx, [highest, ...pairs.filter((p) => p !== highest).reverse()]);
    });
    // In lock-id order it holds every other lock while it waits for the highest one.
    await waitFor("the locker to wait for the highest lock only", async () => {
      if (pid === undefined) return false;
      const [row] = await db.sql<{ granted: number; waiting: number }[]>`
        select count(*) filter (where granted)::int as granted,
          count(*) filter (where not granted)::int as waiting
        from pg_locks where locktype = 'advisory' and pid = ${pid}`;
      return row.granted === 19 && row.waiting === 1;
    });
    release();
    await holder;
    await locker;
  } finally {
    release();
    await db.drop();
  }
});

for (const backend of BACKENDS) {
  Deno.test(
    `insertResults (${backend}): alert texts verbatim, rows in order, ids once`,
    opts,
    async () => {
      const db = await createTestDatabase(backend);
      try {
        // Texts a server-side JSON parse would not give back as they are: spacing, escapes
        // (quote, backslash, a NUL and a lone surrogate written as escapes), non-ASCII.
        const awkward = '{ "b":1,  "a":"\\u0000 \\" \\\\ \\ud800 é 🌌 \'", "n": 1.0e-7 }';
        const batch: ResultToStore[] = Array.from({ length: 7 }, (_, i) => {
          const published = i % 3 !== 1;
          return {
            result: resultFixture(`C${i % 3}`, 0.1 * i, [`a${i}`]),
            resultId: `r${i}`,
            subject: "results.kilonova",
            decision: published ? "published" : "unchanged",
            ...(published
              ? i === 0 ? { alertJson: awkward, hopId: crypto.randomUUID() } : {
                alertJson: JSON.stringify({ n: i, s: `alert ${i}` }),
                hopId: crypto.randomUUID(),
              }
              : {}),
          };
        });
        // A repeated id inside the batch is stored once (the first).
        const repeated: ResultToStore = { ...batch[2], alertJson: '"not this one"' };
        assert.equal(await db.sql.begin((tx) => insertResults(tx, [...batch, repeated])), 7);
        const rows = await db.sql<{ result_id: string; alert_json: string | null }[]>`
        select result_id, alert_json from results order by id`;
        assert.deepEqual(rows.map((r) => r.result_id), batch.map((b) => b.resultId));
        rows.forEach((r, i) => {
          const b = batch[i];
          const want = b.alertJson ?? null;
          assert.equal(r.alert_json, want, `alert_json of ${r.result_id}`);
        });
        // Stored ids are skipped; only new rows count, in their order after the others.
        const again = await db.sql.begin((tx) =>
          insertResults(tx, [
            { ...batch[0], alertJson: '"changed"' },
            { ...batch[1], resultId: "r7", alertJson: '{"n":7}', decision: "published" },
          ])
        );
        assert.equal(again, 1);
        const [r0] = await db.sql`select alert_json from results where result_id = 'r0'`;
        assert.equal(r0.alert_json, awkward);
        const [last] = await db
          .sql`select result_id, alert_json from results order by id desc limit 1`;
        assert.deepEqual({ ...last }, { result_id: "r7", alert_json: '{"n":7}' });
        // A batch without any alert (every result unchanged).
        assert.equal(
          await db.sql.begin((tx) =>
            insertResults(tx, [{ ...batch[1], resultId: "u1" }, { ...batch[4], resultId: "u2" }])
          ),
          2,
        );
        // The largest batch the publisher allows (KB_RESULTS_BATCH ≤ 5,000): one parameter each.
        const big: ResultToStore[] = Array.from({ length: 5_000 }, (_, i) => ({
          result: resultFixture("CB", 0.5, [`b${i}`]),
          resultId: `big${i}`,
          subject: "results.kilonova",
          decision: "published",
          alertJson: JSON.stringify({ i }),
          hopId: crypto.randomUUID(),
        }));
        assert.equal(await db.sql.begin((tx) => insertResults(tx, big)), 5_000);
        const bad = await db.sql`select count(*)::int as n from results
        where result_id like 'big%' and alert_json <> format('{"i":%s}', substr(result_id, 4))`;
        assert.equal(bad[0].n, 0);
      } finally {
        await db.drop();
      }
    },
  );
}
