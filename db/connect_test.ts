import assert from "node:assert/strict";
import { connect, isDbUnreachable, isTransientDbError, socketUrl } from "./connect.ts";
import { databaseUrl } from "./testing.ts";

Deno.test("socketUrl: a URL without a host parameter is TCP and comes back unchanged", () => {
  for (
    const u of [
      "postgres://kb:kb@127.0.0.1:15432/kb",
      "postgresql://kb:kb@db.example:5432/kb?sslmode=require",
      "postgres://kb:kb@127.0.0.1:15432/kb?application_name=x",
    ]
  ) assert.deepEqual(socketUrl(u), { url: u });
});

Deno.test("socketUrl: ?host=/dir names the socket file by the URL's port, and is taken out", () => {
  assert.deepEqual(socketUrl("postgres://kb:kb@127.0.0.1:15432/kb?host=/run/pg"), {
    url: "postgres://kb:kb@127.0.0.1:15432/kb",
    socketPath: "/run/pg/.s.PGSQL.15432",
  });
  // libpq's default port; a trailing slash; other parameters kept, in order.
  assert.deepEqual(socketUrl("postgres://kb:kb@localhost/kb?a=1&host=%2Frun%2Fpg%2F&b=2"), {
    url: "postgres://kb:kb@localhost/kb?a=1&b=2",
    socketPath: "/run/pg/.s.PGSQL.5432",
  });
});

Deno.test("socketUrl: a host parameter that is not one absolute directory is refused", () => {
  for (
    const u of [
      "postgres://kb:kb@127.0.0.1:15432/kb?host=db.example",
      "postgres://kb:kb@127.0.0.1:15432/kb?host=",
      "postgres://kb:kb@127.0.0.1:15432/kb?host=/a&host=/b",
    ]
  ) {
    assert.throws(() => socketUrl(u), /host parameter must be one absolute directory/, u);
  }
});

Deno.test("connect: ?host=/dir talks to the real server over its unix-domain socket", async () => {
  // The server of KB_DATABASE_URL over TCP, whichever way the suite reaches it.
  const tcpUrl = socketUrl(databaseUrl()).url;
  const dir = Deno.env.get("KB_PG_SOCKET_DIR");
  assert.ok(
    dir?.startsWith("/"),
    "KB_PG_SOCKET_DIR (the local PostgreSQL's socket directory) is set by " +
      '`eval "$(bash deploy/local/stack.sh env)"`',
  );
  const tcp = connect(tcpUrl, { max: 1 });
  try {
    const [row] = await tcp<{ via: string | null }[]>`select host(inet_client_addr()) as via`;
    assert.ok(row.via, "the plain URL connects over TCP (a client address)");
  } finally {
    await tcp.end();
  }
  const u = new URL(tcpUrl);
  u.searchParams.set("host", dir!);
  const unix = connect(u.toString(), { max: 1 });
  try {
    const [row] = await unix<{ who: string; via: string | null; one: number }[]>`
      select current_user as who, host(inet_client_addr()) as via, 1 as one`;
    assert.deepEqual(row, { who: u.username, via: null, one: 1 });
  } finally {
    await unix.end();
  }
});

Deno.test("connect: no socket file (server stopped or restarting) is a transient error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kb-no-pg-" });
  const sql = connect(`postgres://kb:kb@127.0.0.1:15432/kb?host=${dir}`, {
    max: 1,
    connectTimeoutS: 2,
  });
  try {
    const err = await sql`select 1`.then(() => undefined, (e: unknown) => e);
    assert.equal((err as { code?: string }).code, "ENOENT");
    assert.equal(isTransientDbError(err), true, String(err));
    assert.equal(
      isDbUnreachable(err),
      true,
      "the TOM answers 503 for it, as for a refused TCP port",
    );
  } finally {
    await sql.end();
    await Deno.remove(dir);
  }
  // Another ENOENT (not a server's socket) is not.
  assert.equal(
    isDbUnreachable(Object.assign(new Error("open ENOENT /x/f"), { code: "ENOENT" })),
    false,
  );
  assert.equal(
    isTransientDbError(Object.assign(new Error("open ENOENT /x/file"), { code: "ENOENT" })),
    false,
  );
});

Deno.test("connect: a refused TCP port is unreachable and transient, as before", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close(); // nothing listens there now
  const sql = connect(`postgres://kb:kb@127.0.0.1:${port}/kb`, { max: 1, connectTimeoutS: 2 });
  try {
    const err = await sql`select 1`.then(() => undefined, (e: unknown) => e);
    assert.equal((err as { code?: string }).code, "ECONNREFUSED");
    assert.equal(isDbUnreachable(err), true);
    assert.equal(isTransientDbError(err), true);
  } finally {
    await sql.end();
  }
});
