/**
 * The list cache: on its own (TTL, scope, generation), and in a running TOM on
 * real PostgreSQL — a repeated list is served from it, and it is emptied by an
 * API write of this TOM before the write answers, and by a write on another
 * connection (another replica, the broker module) through the notification.
 */
import assert from "node:assert/strict";
import { connect } from "../../../db/mod.ts";
import type { Principal } from "../auth/roles.ts";
import { createTestDatabase, startTestTom } from "../testing.ts";
import { ListCache, listenForTargetChanges } from "./list_cache.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const pi: Principal = {
  subject: "s1",
  username: "pi",
  clientId: null,
  roles: ["pi"],
  groups: ["b", "a"],
  expiresAt: 0,
};
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("list cache: TTL, caller scope, stale reads not stored, off at 0", () => {
  let now = 1_000;
  const cache = new ListCache({ ttlMs: 500, maxEntries: 2, now: () => now });
  const k = cache.key(pi, "http://h/api/targets/?limit=1");
  cache.put(k, bytes("a"), cache.generation());
  assert.deepEqual(cache.get(k), bytes("a"));
  now += 499;
  assert.deepEqual(cache.get(k), bytes("a"));
  now += 1;
  assert.equal(cache.get(k), undefined, "expired after ttlMs");
  // Scope: another subject with the same groups, or other groups, is another key.
  assert.notEqual(cache.key({ ...pi, subject: "s2" }, "u"), cache.key(pi, "u"));
  assert.notEqual(cache.key({ ...pi, groups: ["a"] }, "u"), cache.key(pi, "u"));
  assert.equal(cache.key({ ...pi, groups: ["a", "b"] }, "u"), cache.key(pi, "u"));
  assert.equal(
    cache.key({ ...pi, roles: ["admin"] }, "u"),
    cache.key({ ...pi, subject: "x", roles: ["admin"] }, "u"),
    "admins see everything: one scope",
  );
  // A read that began before an invalidation is not stored.
  const g = cache.generation();
  cache.invalidate();
  cache.put(k, bytes("old"), g);
  assert.equal(cache.get(k), undefined);
  // Bounded: the oldest body goes first.
  for (const u of ["1", "2", "3"]) cache.put(u, bytes(u), cache.generation());
  assert.equal(cache.size, 2);
  assert.equal(cache.get("1"), undefined);
  const off = new ListCache({ ttlMs: 0 });
  off.put("x", bytes("x"), off.generation());
  assert.equal(off.get("x"), undefined);
  assert.equal(off.enabled, false);
});

Deno.test("list cache: a generation shared by threads empties every cache on one invalidation", () => {
  const shared = new Int32Array(new SharedArrayBuffer(4));
  const a = new ListCache({ ttlMs: 60_000, sharedGeneration: shared });
  const b = new ListCache({ ttlMs: 60_000, sharedGeneration: shared });
  a.put("k", bytes("a"), a.generation());
  const gb = b.generation();
  b.put("k", bytes("b"), gb);
  assert.deepEqual(b.get("k"), bytes("b"));
  a.invalidate(); // a write through thread a
  assert.equal(b.get("k"), undefined, "b still served its body after a's invalidation");
  assert.equal(a.get("k"), undefined);
  assert.equal(b.size, 0);
  // A read b began before a's invalidation is not stored.
  b.put("k", bytes("old"), gb);
  assert.equal(b.get("k"), undefined);
  b.put("k", bytes("new"), b.generation());
  assert.deepEqual(b.get("k"), bytes("new"));
  // A cache of its own is not affected.
  const c = new ListCache({ ttlMs: 60_000 });
  c.put("k", bytes("c"), c.generation());
  a.invalidate();
  assert.deepEqual(c.get("k"), bytes("c"));
});

Deno.test(
  "list cache in a TOM: hits, emptied by own writes and by notifications",
  opts,
  async () => {
    const db = await createTestDatabase("tom_cache_test");
    const tom = await startTestTom({ KB_DATABASE_URL: db.url, KB_TOM_LIST_CACHE_MS: "60000" });
    const other = connect(db.url, { max: 1 });
    try {
      const token = await tom.devIssuer!.tokenFor("pi");
      const auth = { authorization: `Bearer ${token}` };
      const list = async () => {
        const res = await fetch(`${tom.url}/api/targets/?limit=10`, { headers: auth });
        assert.equal(res.status, 200);
        return ((await res.json()).results as { name: string }[]).map((r) => r.name);
      };
      const create = async (name: string) => {
        const res = await fetch(`${tom.url}/api/targets/`, {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({ name, ra: 1, dec: 2 }),
        });
        assert.equal(res.status, 201);
        await res.body?.cancel();
      };
      assert.deepEqual(await list(), []);
      await create("C1");
      assert.deepEqual(await list(), ["C1"], "this TOM's write is seen at once");
      const hits = tom.listCache.stats.hits;
      assert.deepEqual(await list(), ["C1"]);
      assert.equal(tom.listCache.stats.hits, hits + 1, "the repeated list came from the cache");
      // Another writer (another replica, the broker module): the notification empties it.
      await other`update tom_targets set name = 'C1-renamed'`;
      const deadline = Date.now() + 5_000;
      let names = await list();
      while (names[0] !== "C1-renamed" && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        names = await list();
      }
      assert.deepEqual(names, ["C1-renamed"], "a write elsewhere reached this TOM's cache");
    } finally {
      await other.end();
      await tom.stop();
      await db.drop();
    }
  },
);

Deno.test(
  "list cache on embedded PGlite: off (no notifications), never a stale list",
  opts,
  async () => {
    const tom = await startTestTom({ KB_TOM_LIST_CACHE_MS: "60000" });
    try {
      const auth = { authorization: `Bearer ${await tom.devIssuer!.tokenFor("pi")}` };
      const list = async () => {
        const res = await fetch(`${tom.url}/api/targets/?limit=10`, { headers: auth });
        assert.equal(res.status, 200);
        return ((await res.json()).results as { score: number | null }[]).map((r) => r.score);
      };
      await tom.sql`insert into tom_targets (name, ra, dec) values ('E1', 1, 2)`;
      assert.deepEqual(await list(), [null]);
      assert.deepEqual(await list(), [null]);
      await tom.sql`update tom_targets set score = 0.5`;
      assert.deepEqual(await list(), [0.5]);
      assert.equal(tom.listCache.enabled, false);
    } finally {
      await tom.stop();
    }
  },
);

Deno.test(
  "listenForTargetChanges: a server that answers its probe keeps the cache on",
  opts,
  async () => {
    const db = await createTestDatabase("tom_cache_test");
    const sql = connect(db.url, { max: 1 });
    try {
      const cache = new ListCache({ ttlMs: 1000 });
      const { live, unlisten } = await listenForTargetChanges(sql, cache);
      assert.equal(live, true);
      assert.equal(cache.enabled, true);
      await unlisten();
      // A connection that never hears its probe (as PGlite's): the cache turns itself off.
      const silent = new ListCache({ ttlMs: 1000 });
      const fake = Object.assign(Object.create(sql), {
        listen: () => Promise.resolve({ unlisten: () => Promise.resolve() }),
      });
      const r = await listenForTargetChanges(fake, silent, 100);
      assert.equal(r.live, false);
      assert.equal(silent.enabled, false, "no notifications: the cache turns itself off");
    } finally {
      await sql.end();
      await db.drop();
    }
  },
);
