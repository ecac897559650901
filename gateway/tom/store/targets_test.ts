/**
 * The target list on real PostgreSQL: the JSON page PostgreSQL writes equals
 * the rows the TOM maps itself; counts from the trigger-kept table are exact
 * and follow inserts, permission changes, deletes and truncation; keyset
 * pages equal offset pages; cone searches through the HEALPix index equal a
 * brute-force search, also for rows whose index is missing (and after it is
 * filled in); each target's stored JSON (migration 0105) follows every kind
 * of write.
 */
import assert from "node:assert/strict";
import { connect, type Sql } from "../../../db/mod.ts";
import { migrate } from "../../../db/migrate.ts";
import { createTestDatabase as createEmbeddedTestDatabase } from "../../../db/testing.ts";
import { createTestDatabase } from "../testing.ts";
import { angularDistance, fillSkyIndex, skyIndex } from "./sky.ts";
import {
  addName,
  createTarget,
  deleteName,
  deleteTarget,
  listTargets,
  listTargetsJson,
  TARGET_SORT_KEYS,
  type TargetFilter,
  updateTarget,
  type Viewer,
} from "./targets.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const admin: Viewer = { subject: "root", groups: [], admin: true };
const alice: Viewer = { subject: "alice", groups: ["team-a", 'odd "group", {x}'], admin: false };
const bob: Viewer = { subject: "bob", groups: [], admin: false };

async function withDb(fn: (sql: Sql) => Promise<void>) {
  const db = await createTestDatabase("tom_store_test");
  const sql = connect(db.url, { max: 4 });
  try {
    await migrate(sql);
    await fn(sql);
  } finally {
    await sql.end();
    await db.drop();
  }
}

/** A small sky: 300 targets near (150, 20) and spread out, some PRIVATE. */
async function fill(sql: Sql) {
  let seed = 7;
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let i = 0; i < 300; i++) {
    const near = i % 3 === 0;
    await createTarget(sql, {
      name: `T${i}`,
      ra: near ? 150 + (rnd() - 0.5) * 3 : rnd() * 359.9,
      dec: near ? 20 + (rnd() - 0.5) * 3 : Math.asin(2 * rnd() - 1) * 180 / Math.PI,
      permissions: i % 7 === 0 ? "PRIVATE" : i % 11 === 0 ? "OPEN" : "PUBLIC",
      groups: i % 14 === 0 ? ["team-a"] : i % 7 === 0 ? ["team-b"] : [],
      createdBy: i % 21 === 0 ? "alice" : "someone",
      aliases: i % 50 === 0 ? [`T${i}-alias-b`, `T${i}-alias-a`] : [],
    });
  }
}

async function both(sql: Sql, v: Viewer, f: TargetFilter) {
  const rows = await listTargets(sql, v, f);
  const json = await listTargetsJson(sql, v, f);
  assert.deepEqual(JSON.parse(json.results), rows.rows, "JSON page = mapped rows");
  assert.equal(json.rows, rows.rows.length);
  const byId = !f.order || f.order.by === "id";
  assert.equal(json.lastId, byId ? rows.rows.at(-1)?.id : undefined);
  assert.equal(json.count, rows.count);
  assert.equal(json.exact, rows.exact);
  return rows;
}

async function visibleIds(sql: Sql, v: Viewer): Promise<number[]> {
  const all = await sql<
    { id: number; permissions: string; groups: string[]; created_by: string }[]
  >`
    select id, permissions, groups, created_by from tom_targets order by id`;
  return all.filter((t) =>
    v.admin || t.permissions !== "PRIVATE" || t.created_by === v.subject ||
    t.groups.some((g) => v.groups.includes(g))
  ).map((t) => Number(t.id));
}

Deno.test("target pages: JSON = rows, exact counts, keyset = offset", opts, async () => {
  await withDb(async (sql) => {
    await fill(sql);
    for (const v of [admin, alice, bob]) {
      const ids = await visibleIds(sql, v);
      const first = await both(sql, v, { limit: 40, offset: 0 });
      assert.equal(first.count, ids.length, `count for ${v.subject}`);
      assert.equal(first.exact, true);
      assert.deepEqual(first.rows.map((r) => r.id), ids.slice(0, 40));
      // Walk by cursor and by offset: the same pages.
      let after: number | undefined = undefined;
      for (let off = 0; off < ids.length; off += 40) {
        const byOffset = await both(sql, v, { limit: 40, offset: off });
        const byCursor = await both(sql, v, { limit: 40, offset: off, afterId: after });
        assert.deepEqual(byCursor.rows.map((r) => r.id), byOffset.rows.map((r) => r.id));
        assert.deepEqual(byOffset.rows.map((r) => r.id), ids.slice(off, off + 40));
        after = byCursor.rows.at(-1)?.id;
      }
      const empty = await both(sql, v, { limit: 40, offset: 0, afterId: ids.at(-1) });
      assert.equal(empty.rows.length, 0);
      assert.equal(empty.count, ids.length, "an empty page still carries the count");
    }
    // Aliases and timestamps come out identically from both paths.
    const named = await both(sql, admin, { limit: 5, offset: 0, name: "T50-alias-a" });
    assert.deepEqual(named.rows[0].aliases, ["T50-alias-a", "T50-alias-b"]);
    assert.match(named.rows[0].created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // Filters keep the capped count.
    const scored = await both(sql, alice, { limit: 10, offset: 0, nameContains: "T1" });
    assert.equal(scored.exact, true);
    assert.ok(scored.count > 10 && scored.rows.length === 10);
    // Descending order and its cursor.
    const desc = await both(sql, bob, { limit: 10, offset: 0, order: { by: "id", desc: true } });
    const desc2 = await both(sql, bob, {
      limit: 10,
      offset: 0,
      order: { by: "id", desc: true },
      afterId: desc.rows.at(-1)!.id,
    });
    const bobIds = (await visibleIds(sql, bob)).reverse();
    assert.deepEqual([...desc.rows, ...desc2.rows].map((r) => r.id), bobIds.slice(0, 20));
    await assert.rejects(
      () =>
        listTargets(sql, bob, {
          limit: 10,
          offset: 0,
          afterId: 5,
          order: { by: "name", desc: false },
        }),
      /id order only/,
    );
  });
});

Deno.test("sorted target lists: every key, both ways, unscored last", opts, async () => {
  await withDb(async (sql) => {
    await fill(sql);
    await sql`update tom_targets set score = (id % 13) / 13.0 where id % 4 <> 0`;
    const all = (await listTargets(sql, alice, { limit: 1000, offset: 0 })).rows;
    for (const by of TARGET_SORT_KEYS) {
      for (const desc of [false, true]) {
        const key = (r: typeof all[0]) => by === "created" ? r.created : r[by];
        const expect = [...all].sort((a, b) => {
          const [x, y] = [key(a), key(b)];
          if (x === null || y === null) {
            if (x !== y) return x === null ? 1 : -1; // unscored last both ways
          } else if (x !== y) return (x < y ? -1 : 1) * (desc ? -1 : 1);
          return (a.id - b.id) * (desc && by !== "score" ? -1 : 1);
        }).map((r) => r.id);
        const got = await both(sql, alice, { limit: 1000, offset: 0, order: { by, desc } });
        assert.deepEqual(
          got.rows.map((r) => r.id),
          expect,
          `order by ${by} ${desc ? "desc" : "asc"}`,
        );
        const page2 = await both(sql, alice, { limit: 25, offset: 25, order: { by, desc } });
        assert.deepEqual(page2.rows.map((r) => r.id), expect.slice(25, 50));
      }
    }
  });
});

Deno.test(
  "target counts follow inserts, permission changes, deletes, truncation",
  opts,
  async () => {
    await withDb(async (sql) => {
      await fill(sql);
      const check = async (what: string) => {
        for (const v of [admin, alice, bob]) {
          const { count, exact } = await listTargets(sql, v, { limit: 1, offset: 0 });
          assert.equal(exact, true);
          assert.equal(count, (await visibleIds(sql, v)).length, `${what}: ${v.subject}`);
        }
      };
      await check("after inserts");
      const [pub] = await sql`select id from tom_targets where permissions = 'PUBLIC' limit 1`;
      await updateTarget(sql, admin, Number(pub.id), {
        permissions: "PRIVATE",
        groups: ["team-a"],
      });
      await check("after PUBLIC → PRIVATE");
      const [priv] = await sql`select id from tom_targets where permissions = 'PRIVATE' limit 1`;
      await updateTarget(sql, admin, Number(priv.id), { permissions: "OPEN" });
      await check("after PRIVATE → OPEN");
      await sql`update tom_targets set score = 0.5`; // no permission change: counts untouched
      await check("after a score update");
      await deleteTarget(sql, admin, Number(pub.id));
      await sql`delete from tom_targets where id in (select id from tom_targets where permissions = 'PRIVATE' limit 3)`;
      await check("after deletes");
      await sql`truncate tom_targets cascade`;
      await check("after truncate");
      const [c] = await sql`select total, private from tom_target_counts`;
      assert.deepEqual([Number(c.total), Number(c.private)], [0, 0]);
    });
  },
);

Deno.test(
  "cone search on the HEALPix index = brute force, with and without hpx",
  opts,
  async () => {
    await withDb(async (sql) => {
      await fill(sql);
      // Targets on both sides of RA 0/360°, for the cones whose RA window wraps there.
      const wrap = [[359.7, 0.5], [0.3, -0.5], [359.95, 1], [0.05, 2], [0.4, 10], [359.2, 9]];
      for (const [i, [ra, dec]] of wrap.entries()) {
        await createTarget(sql, { name: `W${i}`, ra, dec, permissions: "PUBLIC" });
        await createTarget(sql, { name: `W${i}-p`, ra, dec: dec + 0.1, permissions: "PRIVATE" });
      }
      const all = await sql<{ id: number; ra: number; dec: number; hpx: number }[]>`
      select id, ra, dec, hpx from tom_targets order by id`;
      for (const t of all) {
        assert.equal(Number(t.hpx), skyIndex(t.ra, t.dec), "hpx written on insert");
      }
      const cones = [
        { ra: 150, dec: 20, radius: 1 },
        { ra: 150.5, dec: 19.5, radius: 0.3 },
        { ra: 0.2, dec: 0, radius: 10 },
        { ra: 10, dec: 89.5, radius: 5 },
      ];
      const brute = async (c: typeof cones[0]) =>
        (await sql<{ id: number; ra: number; dec: number }[]>`select id, ra, dec from tom_targets`)
          .filter((t) => angularDistance(t.ra, t.dec, c.ra, c.dec) <= c.radius)
          .map((t) => Number(t.id)).sort((a, b) => a - b);
      const found = async (c: typeof cones[0]) =>
        (await both(sql, admin, { limit: 1000, offset: 0, cone: c })).rows.map((r) => r.id);
      let some = 0;
      for (const c of cones) {
        const expect = await brute(c);
        some += expect.length;
        assert.deepEqual(await found(c), expect, `cone ${JSON.stringify(c)}`);
      }
      assert.ok(some > 20, "the cones hold targets (the test can fail)");
      // Viewers, filters, orders, cursors and offsets on a cone (migration 0107 filters the
      // cone's rows once, in the statement's CTE): the same as brute force.
      const wide = [...cones, { ra: 359.5, dec: 10, radius: 25 }]; // this one wraps past 360°
      const details = async (label: string) => {
        let private_ = 0;
        for (const c of wide) {
          const inCone = new Set(await brute(c));
          for (const v of [admin, alice, bob]) {
            const ids = (await visibleIds(sql, v)).filter((id) => inCone.has(id));
            const what = `${label}: cone ${JSON.stringify(c)}, ${v.subject}`;
            const all = await both(sql, v, { limit: 1000, offset: 0, cone: c });
            assert.deepEqual(all.rows.map((r) => r.id), ids, what);
            assert.deepEqual([all.count, all.exact], [ids.length, true], what);
            private_ += all.rows.filter((r) => r.permissions === "PRIVATE").length;
            // Pages of 3 by cursor and by offset.
            let after: number | undefined = undefined;
            for (let off = 0; off < ids.length; off += 3) {
              const byOffset = await both(sql, v, { limit: 3, offset: off, cone: c });
              const byCursor = await both(sql, v, { limit: 3, offset: 0, afterId: after, cone: c });
              assert.deepEqual(byOffset.rows.map((r) => r.id), ids.slice(off, off + 3), what);
              assert.deepEqual(byCursor.rows.map((r) => r.id), ids.slice(off, off + 3), what);
              assert.equal(byCursor.count, ids.length, `${what}: a cursor page counts the cone`);
              after = byCursor.rows.at(-1)?.id;
            }
            // A filter and a sort on top of the cone.
            const names = new Map(all.rows.map((r) => [r.id, r.name]));
            const t1 = ids.filter((id) => names.get(id)!.includes("T1"));
            const filtered = await both(sql, v, {
              limit: 1000,
              offset: 0,
              cone: c,
              nameContains: "T1",
            });
            assert.deepEqual(filtered.rows.map((r) => r.id), t1, `${what}, name contains T1`);
            const byName = await both(sql, v, {
              limit: 1000,
              offset: 0,
              cone: c,
              order: { by: "name", desc: true },
            });
            const expectByName = [...ids].sort((a, b) =>
              names.get(a)! < names.get(b)! ? 1 : names.get(a)! > names.get(b)! ? -1 : 0
            );
            assert.deepEqual(byName.rows.map((r) => r.id), expectByName, `${what}, by name`);
          }
        }
        assert.ok(private_ > 0, `${label}: the cones hold visible PRIVATE targets (can fail)`);
      };
      await details("indexed");
      // Rows without a sky index (written before migration 0102, or by hand) are still found.
      await sql`update tom_targets set hpx = null where id % 2 = 0`;
      for (const c of wide) assert.deepEqual(await found(c), await brute(c), "with hpx missing");
      await details("half the rows without hpx");
      // A move by hand without a new pixel forgets the old one (trigger), and is found at the new place.
      const [moved] = await sql`update tom_targets set ra = 150, dec = 20 where id = ${
        all.find((t) => Number(t.id) % 2 === 1 && angularDistance(t.ra, t.dec, 150, 20) > 5)!.id
      } returning id, hpx`;
      assert.equal(moved.hpx, null);
      assert.ok((await found(cones[0])).includes(Number(moved.id)));
      // The API's update writes the pixel with the position.
      await updateTarget(sql, admin, Number(moved.id), { ra: 151 });
      const [after] = await sql`select hpx from tom_targets where id = ${moved.id}`;
      assert.equal(Number(after.hpx), skyIndex(151, 20));
      // Fill-in restores every pixel.
      assert.ok(await fillSkyIndex(sql, 37) > 100);
      const [{ n }] = await sql`select count(*)::int as n from tom_targets where hpx is null`;
      assert.equal(n, 0);
      for (
        const t of await sql<{ ra: number; dec: number; hpx: number }[]>`
      select ra, dec, hpx from tom_targets`
      ) {
        assert.equal(Number(t.hpx), skyIndex(t.ra, t.dec));
      }
      for (const c of cones) assert.deepEqual(await found(c), await brute(c), "after fill-in");
    });
  },
);

Deno.test(
  "stored target JSON follows updates, aliases, score writes and a missing value",
  opts,
  async () => {
    await withDb(async (sql) => {
      const id = await createTarget(sql, { name: "J1", ra: 10, dec: -5, aliases: ["J1-a"] });
      await createTarget(sql, { name: "J2", ra: 11, dec: -6 });
      const same = async (what: string) => {
        const rows = await listTargets(sql, admin, { limit: 10, offset: 0 });
        const json = await listTargetsJson(sql, admin, { limit: 10, offset: 0 });
        assert.deepEqual(JSON.parse(json.results), rows.rows, what);
        assert.deepEqual(JSON.parse(new TextDecoder().decode(json.resultsUtf8)), rows.rows, what);
        return rows.rows.find((r) => r.id === id)!;
      };
      assert.deepEqual((await same("created")).aliases, ["J1-a"]);
      await updateTarget(sql, admin, id, { name: "J1-new", ra: 12.25, permissions: "PRIVATE" });
      const moved = await same("updated");
      assert.equal(moved.name, "J1-new");
      assert.equal(moved.ra, 12.25);
      const alias = await addName(sql, id, "J1-b");
      assert.deepEqual((await same("alias added")).aliases, ["J1-a", "J1-b"]);
      await deleteName(sql, id, alias.id);
      assert.deepEqual((await same("alias removed")).aliases, ["J1-a"]);
      await sql`update tom_target_names set name = 'J1-c' where target_id = ${id}`;
      assert.deepEqual((await same("alias renamed")).aliases, ["J1-c"]);
      // The broker module's score write is a plain UPDATE.
      await sql`update tom_targets set score = 0.125, score_at = now(), event_id = 'S1'
      where id = ${id}`;
      const scored = await same("scored");
      assert.equal(scored.score, 0.125);
      assert.equal(scored.event_id, "S1");
      // A row whose stored JSON is missing (written with triggers off) is built on the spot.
      await sql`alter table tom_targets disable trigger tom_targets_api_json`;
      await sql`update tom_targets set api_json = null, score = 0.5 where id = ${id}`;
      await sql`alter table tom_targets enable trigger tom_targets_api_json`;
      assert.equal((await same("missing JSON")).score, 0.5);
      // Offset pages and cone searches read the same stored values.
      const [o1, o2] = [
        await listTargetsJson(sql, admin, { limit: 1, offset: 1 }),
        await listTargets(sql, admin, { limit: 1, offset: 1 }),
      ];
      assert.deepEqual(JSON.parse(o1.results), o2.rows);
      const cone = await listTargetsJson(sql, admin, {
        limit: 10,
        offset: 0,
        cone: { ra: 11, dec: -6, radius: 0.1 },
      });
      assert.deepEqual(JSON.parse(cone.results).map((r: { name: string }) => r.name), ["J2"]);
    });
  },
);

Deno.test(
  "cone search on the embedded PGlite (the default database) = brute force",
  opts,
  async () => {
    const db = await createEmbeddedTestDatabase("pglite");
    try {
      const sql = db.sql;
      const pos = [[150, 20], [150.3, 20.2], [151.5, 20], [359.9, 0], [0.1, 0.1], [200, -30]];
      for (const [i, [ra, dec]] of pos.entries()) {
        await createTarget(sql, {
          name: `E${i}`,
          ra,
          dec,
          permissions: i % 2 ? "PRIVATE" : "PUBLIC",
          createdBy: "alice",
        });
      }
      await sql`update tom_targets set hpx = null where name = 'E1'`; // found without its pixel too
      for (const c of [{ ra: 150, dec: 20, radius: 1 }, { ra: 0, dec: 0, radius: 0.5 }]) {
        for (const v of [admin, alice, bob]) {
          const expect = (await visibleIds(sql, v)).filter((id) => {
            const i = id - 1;
            return angularDistance(pos[i][0], pos[i][1], c.ra, c.dec) <= c.radius;
          });
          const got = await both(sql, v, { limit: 50, offset: 0, cone: c });
          assert.deepEqual(got.rows.map((r) => r.id), expect, `${JSON.stringify(c)}, ${v.subject}`);
        }
      }
      const seen = await both(sql, alice, {
        limit: 50,
        offset: 0,
        cone: { ra: 150, dec: 20, radius: 1 },
      });
      assert.deepEqual(seen.rows.map((r) => r.name), ["E0", "E1"], "the test can fail");
    } finally {
      await db.drop();
    }
  },
);
