/**
 * A TOM process serving on two threads (KB_TOM_WORKERS=2, as deployed with
 * `--unstable-net`) on real PostgreSQL and Keycloak: both threads answer on
 * the one port, a write through either empties the list cache of both before
 * it answers (read-your-writes across threads, the TTL long enough that only
 * the shared generation can explain it), SIGTERM stops every thread cleanly;
 * settings a threaded TOM cannot honour are refused by name.
 */
import assert from "node:assert/strict";
import { loadTomConfig } from "./config.ts";
import { checkThreadedConfig } from "./serve_threads.ts";
import { createTestDatabase, keycloak, passwordToken, spawnTom } from "./testing.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** CPU ticks the process's Web Worker threads (`worker-<n>`) have used so far. */
async function workerThreadTicks(pid: number): Promise<number> {
  let ticks = 0;
  for await (const t of Deno.readDir(`/proc/${pid}/task`)) {
    const dir = `/proc/${pid}/task/${t.name}`;
    const comm = (await Deno.readTextFile(`${dir}/comm`)).trim();
    if (!/^worker-/.test(comm)) continue;
    const stat = await Deno.readTextFile(`${dir}/stat`);
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks;
}

Deno.test("threaded TOM: settings it cannot honour are refused by name", () => {
  const base = { KB_TOM_WORKERS: "2" };
  assert.throws(() => checkThreadedConfig(loadTomConfig(base)), /KB_DATABASE_URL/);
  assert.throws(
    () => checkThreadedConfig(loadTomConfig({ ...base, KB_DATABASE_URL: "postgres://h/db" })),
    /KB_OIDC_ISSUER/,
  );
  checkThreadedConfig(loadTomConfig({
    ...base,
    KB_DATABASE_URL: "postgres://h/db",
    KB_OIDC_ISSUER: "http://issuer.example/realms/kb",
  }));
  checkThreadedConfig(loadTomConfig({})); // one thread: anything goes, as before
  assert.throws(() => loadTomConfig({ KB_TOM_WORKERS: "0" }), /KB_TOM_WORKERS/);
});

Deno.test(
  "threaded TOM: two threads on one port, list cache emptied across threads by a write",
  opts,
  async () => {
    const db = await createTestDatabase("tom_threads");
    const k = keycloak();
    const tom = await spawnTom({
      KB_TOM_WORKERS: "2",
      KB_DATABASE_URL: db.url,
      KB_OIDC_ISSUER: k.issuer,
      KB_OIDC_AUDIENCE: k.audience,
      KB_TOM_LIST_CACHE_MS: "60000", // only an invalidation can make a cached list fresh
      KB_TOM_RATE_LIMIT: "false",
      KB_TOM_WEB: "false",
      KB_TOM_BROKER: "false",
      KB_TRANSPORT: "memory",
      KB_LOG_LEVEL: "info",
    });
    // A new connection per request: the kernel spreads them over the two threads' sockets.
    const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
    try {
      const token = await passwordToken(k.issuer, k.testClient, "pi", k.users.pi);
      const auth = { authorization: `Bearer ${token}` };
      const list = async () => {
        const res = await fetch(`${tom.url}/api/targets/?limit=5`, { headers: auth, client });
        assert.equal(res.status, 200);
        return (await res.json()) as { count: number; results: { name: string }[] };
      };
      const ticks0 = await workerThreadTicks(tom.child.pid);
      // Both threads cache the empty list ...
      for (let i = 0; i < 200; i++) assert.equal((await list()).count, 0);
      assert.ok(
        await workerThreadTicks(tom.child.pid) > ticks0,
        "the second thread answered none of 200 new connections",
      );
      // ... a write through one of them ...
      const res = await fetch(`${tom.url}/api/targets/`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ name: "THREADS-1", ra: 10, dec: 20 }),
        client,
      });
      assert.equal(res.status, 201, await res.text());
      // ... and no thread answers the cached list again.
      for (let i = 0; i < 100; i++) {
        const page = await list();
        assert.equal(page.count, 1, `request ${i}: a thread served its stale cached list`);
        assert.equal(page.results[0].name, "THREADS-1");
      }
      // Unauthenticated requests are refused alike by every thread.
      for (let i = 0; i < 20; i++) {
        const r = await fetch(`${tom.url}/api/targets/`, { client });
        assert.equal(r.status, 401);
        assert.equal((await r.json()).error, "unauthorized");
      }
    } finally {
      client.close();
      tom.kill("SIGTERM");
      const status = await tom.status;
      await db.drop();
      assert.equal(status.code, 0, `SIGTERM: the threaded TOM exited with ${status.code}`);
    }
  },
);
