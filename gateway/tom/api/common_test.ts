/** pageLinks: the links of plain URLs (no URL objects) equal those parsed with URL/URLSearchParams. */
import assert from "node:assert/strict";
import { pageLinks, pageLinkWriter, simpleUrl } from "./common.ts";

/** The links as the parsing path writes them (the reference). */
function parsedLinks(
  url: string,
  page: { limit: number; offset: number },
  more: boolean,
  lastId: number | undefined,
  cursor: boolean,
) {
  const at = pageLinkWriter(url, page.limit, cursor, true);
  return {
    next: more ? at(page.offset + page.limit, lastId) : null,
    previous: page.offset > 0 ? at(Math.max(0, page.offset - page.limit), undefined) : null,
  };
}

Deno.test("pageLinks: plain URLs give the links URLSearchParams gives, others are parsed", () => {
  const hosts = [
    "http://127.0.0.1:8080",
    "https://tom.example.org",
    "http://localhost",
    "http://a-b.c",
  ];
  const paths = ["/api/targets/", "/api/collections/3/targets", "/x"];
  const queries = [
    "",
    "?",
    "?limit=50",
    "?ra=180&dec=10&radius=0.5",
    "?limit=50&offset=950",
    "?offset=100&limit=20&after_id=77&name_contains=KB-BENCH",
    "?after_id=1&after_id=2&limit=5",
    "?limit=5&limit=7&score_min=-1.5e3",
    "?a=&b=c*d_e.f-g",
  ];
  let fast = 0;
  for (const h of hosts) {
    for (const p of paths) {
      for (const q of queries) {
        const url = h + p + q;
        if (simpleUrl(url)) fast++;
        for (
          const [limit, offset, rows, count] of [[50, 0, 50, 2000], [20, 100, 20, 130], [
            5,
            3,
            2,
            5,
          ]]
        ) {
          for (const cursor of [true, false]) {
            const more = rows === limit && offset + limit < count;
            const got = pageLinks(
              url,
              { limit, offset },
              rows,
              { count, exact: true },
              cursor ? { lastId: 4242 } : undefined,
            );
            assert.deepEqual(
              got,
              more || offset > 0
                ? parsedLinks(url, { limit, offset }, more, 4242, cursor)
                : { next: null, previous: null },
              url,
            );
          }
        }
      }
    }
  }
  assert.equal(
    fast,
    hosts.length * paths.length * queries.length,
    "every plain URL took the fast path",
  );
  // Not plain: parsed (the URL parser would rewrite or encode them), and the links still agree.
  for (
    const url of [
      "http://127.0.0.1:80/api/targets/?limit=5",
      "http://127.1:8080/api/targets/?limit=5",
      "http://0x7f.0.0.1/api/targets/?limit=5",
      "http://010.0.0.1/api/targets/?limit=5",
      "http://Tom.Example.org/api/targets/?limit=5",
      "http://h/api/./targets/?limit=5",
      "http://h/api/targets/?name=a%20b&limit=5",
      "http://h/api/targets/?name=a+b",
      "http://h/api/targets/?flag&limit=5",
      "http://h/api/targets/?a=1&&limit=5",
      "http://h/api/targets/?a=b=c",
      "http://h/api/targets/?a=~",
      "http://h:65536/x?limit=5",
      "http://xn--nxasmq6b.example/x?limit=5",
    ]
  ) {
    let parses = true;
    try {
      new URL(url);
    } catch {
      parses = false;
    }
    assert.equal(simpleUrl(url), undefined, url);
    if (!parses) continue;
    assert.deepEqual(
      pageLinks(url, { limit: 5, offset: 5 }, 5, { count: 100, exact: true }, { lastId: 9 }),
      parsedLinks(url, { limit: 5, offset: 5 }, true, 9, true),
      url,
    );
  }
});
