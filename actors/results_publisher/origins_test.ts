/**
 * The origins cache against both databases: the same rows as the query, ids
 * not archived yet asked for again, least recently used evicted.
 */
import assert from "node:assert/strict";
import { insertAlertBatch } from "../../db/archive.ts";
import { alertsByMsgIds } from "../../db/queries.ts";
import { BACKENDS, createTestDatabase } from "../../db/testing.ts";
import { extract } from "../archiver/extract.ts";
import { opticalFixture, point } from "../archiver/testing.ts";
import { OriginCache } from "./origins.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

for (const backend of BACKENDS) {
  Deno.test(
    `OriginCache (${backend}): rows as read, missing ids read again, bounded`,
    opts,
    async () => {
      const db = await createTestDatabase(backend);
      try {
        const fs = await Promise.all([1, 2, 3].map((i) => opticalFixture("ZTF-O", point(i))));
        const archive = (xs: typeof fs) =>
          insertAlertBatch(db.sql, xs.map((f) => extract(f.envelope, f.msgId, f.subject).item));
        await archive(fs.slice(0, 2));
        const ids = fs.map((f) => f.msgId);
        const cache = new OriginCache(2);
        const first = await cache.get(db.sql, ids);
        assert.deepEqual([...first.keys()].sort(), ids.slice(0, 2).sort());
        const direct = new Map((await alertsByMsgIds(db.sql, ids)).map((a) => [a.msg_id, a]));
        for (const id of ids.slice(0, 2)) assert.deepEqual(first.get(id), direct.get(id));
        assert.equal(cache.size, 2);
        // The third alert is archived now: it is read (not remembered as absent) and evicts the
        // least recently used of the other two.
        await archive(fs.slice(2));
        const second = await cache.get(db.sql, [ids[1], ids[2]]);
        assert.deepEqual([...second.keys()].sort(), [ids[1], ids[2]].sort());
        assert.equal(cache.size, 2);
        assert.deepEqual((await cache.get(db.sql, ids)).get(ids[0]), direct.get(ids[0]));
      } finally {
        await db.drop();
      }
    },
  );
}
