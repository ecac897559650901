import assert from "node:assert/strict";
import postgres from "postgres";
import { connect } from "./connect.ts";
import { shardedSql } from "./shards.ts";
import { databaseUrl } from "./testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("shardedSql: one client is returned as it is; none is refused", () => {
  const one = postgres("postgres://kb@127.0.0.1:1/kb", { max: 1 });
  assert.equal(shardedSql([one]), one);
  assert.throws(() => shardedSql([]), /at least one client/);
});

Deno.test(
  "connect (real server): queries take the pool's connections in turn, fragments and " +
    "helpers of any client work in any query, bigint and json as before",
  opts,
  async () => {
    const app = `kb-shards-${crypto.randomUUID().slice(0, 8)}`;
    const sql = connect(databaseUrl(), { max: 3, applicationName: app });
    try {
      const pids = new Set<number>();
      for (let i = 0; i < 6; i++) {
        const [{ pid }] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
        pids.add(pid);
      }
      assert.equal(pids.size, 3, "six queries in turn over three connections");
      // A fragment made by one call (one client) inside a query run by the next one.
      const where = sql`where x > ${1}`;
      const rows = await sql<{ x: number }[]>`
        select x from (values (1), (2), (3)) as t(x) ${where} order by x`;
      assert.deepEqual(rows.map((r) => r.x), [2, 3]);
      const col = sql("x");
      const [j] = await sql<{ j: { a: number }; big: number; huge: string; arr: number[] }[]>`
        select ${sql.json({ a: 1 })}::jsonb as j, 42::bigint as big,
          9007199254740993::bigint as huge, ${sql.array([1, 2])}::int[] as arr,
          ${col === col ? 1 : 0} as one`;
      assert.deepEqual(j.j, { a: 1 });
      assert.equal(j.big, 42);
      assert.equal(j.huge, "9007199254740993");
      assert.deepEqual(j.arr, [1, 2]);
      const [{ y }] = await sql.unsafe<{ y: number }[]>("select $1::int + 1 as y", [41]);
      assert.equal(y, 42);
      const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from pg_stat_activity
        where application_name = ${app}`;
      assert.equal(n, 3);
    } finally {
      await sql.end();
    }
  },
);

Deno.test(
  "connect (real server): a query is not queued behind an open transaction while another " +
    "connection is free; the transaction sees its own writes, others see them at commit",
  opts,
  async () => {
    const sql = connect(databaseUrl(), { max: 2 });
    const table = `kb_shards_${crypto.randomUUID().slice(0, 8)}`;
    let release = () => {};
    let tx: Promise<unknown> = Promise.resolve();
    try {
      await sql.unsafe(`create table ${table} (x int)`);
      const held = new Promise<void>((r) => release = r);
      let inside!: () => void;
      const started = new Promise<void>((r) => inside = r);
      tx = sql.begin(async (t) => {
        await t.unsafe(`insert into ${table} values (1)`);
        const [{ n }] = await t.unsafe<{ n: number }[]>(`select count(*)::int as n from ${table}`);
        assert.equal(n, 1);
        inside();
        await held;
      });
      await started;
      // Every plain query now goes to the other connection: none waits for the transaction.
      const during = await Promise.race([
        Promise.all(
          Array.from(
            { length: 8 },
            () => sql<{ n: number }[]>`select count(*)::int as n from ${sql(table)}`,
          ),
        ),
        new Promise<"blocked">((r) => setTimeout(() => r("blocked"), 5000)),
      ]);
      assert.notEqual(during, "blocked", "a plain query waited for the open transaction");
      assert.deepEqual((during as { n: number }[][]).map(([r]) => r.n), Array(8).fill(0));
      release();
      await tx;
      const [{ n }] = await sql<{ n: number }[]>`select count(*)::int as n from ${sql(table)}`;
      assert.equal(n, 1);
      // A failing transaction rolls back and its connection takes queries again.
      await assert.rejects(
        sql.begin(async (t) => {
          await t.unsafe(`insert into ${table} values (2)`);
          await t.unsafe("select * from kb_no_such_table");
        }),
        /kb_no_such_table/,
      );
      for (let i = 0; i < 4; i++) {
        const [{ n: m }] = await sql<{ n: number }[]>`select count(*)::int as n
          from ${sql(table)}`;
        assert.equal(m, 1);
      }
    } finally {
      release(); // a failed assertion above must not leave the transaction open
      await tx.catch(() => {}); // its own failure, if any, was asserted above
      await sql.unsafe(`drop table if exists ${table}`);
      await sql.end();
    }
  },
);

Deno.test("connect (real server): listen and notify through the pool's face", opts, async () => {
  const sql = connect(databaseUrl(), { max: 3 });
  const channel = `kb_shards_${crypto.randomUUID().slice(0, 8)}`;
  try {
    const got: string[] = [];
    let resolve!: () => void;
    const heard = new Promise<void>((r) => resolve = r);
    // Resolves once the LISTEN is in place.
    await sql.listen(channel, (payload) => {
      got.push(payload);
      if (got.length === 3) resolve();
    });
    for (const p of ["a", "b", "c"]) await sql.notify(channel, p);
    await heard;
    assert.deepEqual(got.sort(), ["a", "b", "c"]);
  } finally {
    await sql.end();
  }
});

Deno.test(
  "connect (real server): a query goes to an idle connection rather than behind a slow one",
  opts,
  async () => {
    const sql = connect(databaseUrl(), { max: 2 });
    try {
      // Both connections open, then one busy with a slow statement.
      await Promise.all([sql`select 1`, sql`select 1`]);
      await new Promise((r) => setTimeout(r, 10));
      const slow = sql`select pg_sleep(4)`.execute();
      await new Promise((r) => setTimeout(r, 50)); // another round: handed over, in flight
      const t0 = performance.now();
      for (let i = 0; i < 4; i++) await sql`select 1`;
      const waited = performance.now() - t0;
      assert.ok(waited < 2000, `four quick queries took ${waited.toFixed(0)} ms behind a slow one`);
      await slow;
    } finally {
      await sql.end();
    }
  },
);

Deno.test("connect: KB_DB_POOL picks the pool kind and refuses anything else", () => {
  const before = Deno.env.get("KB_DB_POOL");
  try {
    Deno.env.set("KB_DB_POOL", "several");
    assert.throws(() => connect(databaseUrl(), { max: 2 }), /KB_DB_POOL="several".*turns/);
  } finally {
    if (before === undefined) Deno.env.delete("KB_DB_POOL");
    else Deno.env.set("KB_DB_POOL", before);
  }
});
