import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect } from "./connect.ts";
import { loadMigrations, migrate, type Migration } from "./migrate.ts";
import { BACKENDS, createTestDatabase } from "./testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

function m(version: number, name: string, sql: string): Migration {
  return { version, name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
}

Deno.test("shipped migrations are well named, ordered, and never destructive", async () => {
  const all = await loadMigrations();
  assert.ok(all.length >= 2);
  assert.deepEqual(all.map((x) => x.version), [...all.map((x) => x.version)].sort((a, b) => a - b));
  for (const x of all) {
    const text = x.sql.replace(/--.*$/gm, "");
    assert.doesNotMatch(
      text,
      /\b(drop\s+(table|schema|database|column)|delete\s+from)\b|(^|;)\s*truncate\b/im,
      `migration ${x.version}_${x.name} must only add (no drop/truncate/delete)`,
    );
  }
});

for (const backend of BACKENDS) {
  Deno.test(
    `migrate (${backend}): applies once, fills gaps, refuses edited files`,
    opts,
    async () => {
      const db = await createTestDatabase(backend, { migrated: false });
      try {
        const first = await migrate(db.sql);
        assert.ok(first.applied.includes(1) && first.applied.includes(2));
        const again = await migrate(db.sql);
        assert.deepEqual(again.applied, []);

        // A higher version lands first, then a lower one appears: it is still applied.
        const high = m(9901, "later", "create table t_later (x int);");
        const low = m(9900, "earlier", "create table t_earlier (x int);");
        assert.deepEqual((await migrate(db.sql, { migrations: [high] })).applied, [9901]);
        assert.deepEqual((await migrate(db.sql, { migrations: [low, high] })).applied, [9900]);
        const rows = await db.sql`select version from schema_migrations where version >= 9900
        order by version`;
        assert.deepEqual(rows.map((r) => r.version), [9900, 9901]);

        // An applied migration whose text changed stops the start.
        const edited = m(9900, "earlier", "create table t_earlier (x int, y int);");
        await assert.rejects(
          migrate(db.sql, { migrations: [edited] }),
          /was changed after it was applied/,
        );

        // A failing migration leaves nothing half-applied.
        const bad = m(9902, "bad", "create table t_bad (x int); select * from no_such_table;");
        await assert.rejects(migrate(db.sql, { migrations: [bad] }));
        const [{ n }] = await db.sql`select count(*)::int as n from information_schema.tables
        where table_name = 't_bad'`;
        assert.equal(n, 0);
      } finally {
        await db.drop();
      }
    },
  );

  // Replicas are processes with a client each, on a real server. The embedded server is one
  // PGlite session inside one process, used through one client (demo/main.ts): several clients
  // on it interleave their extended-protocol messages ("portal does not exist", seen in CI), so
  // there the four starts share that one client, as the demo's actors do.
  Deno.test(`migrate (${backend}): replicas starting together do not race`, opts, async () => {
    const db = await createTestDatabase(backend, { migrated: false });
    const clients = backend === "pglite" ? [] : [0, 1, 2, 3].map(() => connect(db.url, { max: 2 }));
    const starts = backend === "pglite" ? [db.sql, db.sql, db.sql, db.sql] : clients;
    try {
      const reports = await Promise.all(starts.map((c) => migrate(c)));
      const applied = reports.flatMap((r) => r.applied).sort((a, b) => a - b);
      const expected = (await loadMigrations()).map((x) => x.version);
      assert.deepEqual(applied, expected, "each migration applied by exactly one replica");
    } finally {
      await Promise.all(clients.map((c) => c.end()));
      await db.drop();
    }
  });
}
