/**
 * Assertions on a demo run that both modes' tests share.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { DemoRun } from "./common.ts";
import { type DemoSummary, printSummary } from "./summary.ts";

/** What printSummary prints, as lines. */
export function printed(
  s: DemoSummary,
  url: string,
  token: string,
  login: string,
  web?: { url: string; signIn: string },
): string[] {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => void lines.push(args.join(" "));
  try {
    printSummary(s, url, token, login, web);
  } finally {
    console.log = log;
  }
  return lines.join("\n").split("\n");
}

/** The assertions both modes share. */
export async function assertDemo(
  run: DemoRun,
  mode: DemoSummary["mode"],
): Promise<void> {
  const { summary, tomUrl, token, login, web } = run;
  assert.equal(summary.mode, mode);
  const archived = Object.values(summary.alertsArchived).reduce((a, b) => a + b, 0);
  const f = summary.followUp;
  assert.equal(
    archived,
    summary.alertsIn + f.exposures,
    "every replayed alert and every follow-up exposure archived exactly once",
  );
  assert.ok(summary.alertsArchived["alerts.in.gw"] >= 1, "the IGWN alerts were archived");
  assert.deepEqual(summary.gwEvents, ["S170817a"]);
  assert.ok(summary.candidates >= 6, `candidates: ${summary.candidates}`);
  assert.ok(summary.results > 0 && summary.derivedAlerts > 0);
  assert.ok(summary.derivedAlerts < summary.results, "unchanged re-scores are not republished");
  assert.equal(summary.top[0]?.name, "AT2017gfo");
  assert.ok(summary.top[0].score >= 0.9, `AT2017gfo P(KN) ${summary.top[0].score}`);
  assert.deepEqual(summary.deadLetters, {});

  // The follow-up loop: one automatic request for AT2017gfo, observed; its photometry re-scored.
  assert.equal(f.requests, 1, JSON.stringify(f));
  assert.equal(f.automatic, 1);
  assert.deepEqual(f.byStatus, { COMPLETED: 1 });
  assert.equal(f.first?.target, "AT2017gfo");
  assert.equal(f.first?.event, "S170817a");
  assert.ok(f.first!.score >= 0.5);
  assert.ok(f.exposures >= 3 && f.exposures % 3 === 0, `g, r, i visits: ${f.exposures}`);
  assert.equal(f.rescored[0]?.target, "AT2017gfo", JSON.stringify(f.rescored));
  assert.ok(f.rescored[0].results >= 1);
  assert.ok(f.rescored[0].after !== null && f.rescored[0].after >= 0.9);

  const lines = printed(summary, tomUrl, token, login, web);
  const line = (re: RegExp) => assert.ok(lines.some((l) => re.test(l)), `no line ${re}`);
  line(new RegExp(`^summary \\(\\d+\\.\\d s, ${mode}\\)$`));
  line(/^ {2}observation requests: 1 made \(1 automatic\): 1 COMPLETED$/);
  line(/^ {4}first: AT2017gfo, rule kilonova-followup, P\(kilonova\) [01]\.\d{3} in S170817a$/);
  line(/^ {2}follow-up photometry: \d+ optical alerts from the observatory$/);
  line(
    /^ {4}AT2017gfo re-scored \d+× with it: P\(kilonova\) [\d.—]+ → [01]\.\d{3}; \d+ republished/,
  );
  line(/^ {2}dead letters: +none$/);
  if (web) {
    line(/^web pages: http\S+\/targets\/ {3}\(sign in as /);
    // Without a session the pages send the browser to the login, which goes to the issuer.
    const page = await fetch(web.url, { redirect: "manual" });
    await page.body?.cancel();
    assert.equal(page.status, 302);
    assert.match(page.headers.get("location") ?? "", /^\/auth\/login\?return_to=/);
    const login = await fetch(new URL(page.headers.get("location")!, web.url), {
      redirect: "manual",
    });
    await login.body?.cancel();
    assert.equal(login.status, 302, "the login starts at the issuer");
  }

  const res = await fetch(`${tomUrl}/api/targets/?limit=50`, {
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.match(JSON.stringify(body), /AT2017gfo/, "the TOM lists AT2017gfo with the ready token");
}
