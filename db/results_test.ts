/**
 * The locks of the batched results publisher: the locks of a batch are taken
 * in lock-id order whatever the order given (so two batches never deadlock).
 * (The light curves read for derived alerts are tested in
 * actors/results_publisher/derived_rows_test.ts.)
 */
import { waitFor } from "../actors/runtime/testing.ts";
import { candidateModelKey, lockCandidateModel, lockCandidateModels } from "./results.ts";
import { createTestDatabase } from "./testing.ts";

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
