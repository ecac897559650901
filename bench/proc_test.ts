/** The /proc readers the benches charge CPU, memory and wake-ups with, on this process. */
import assert from "node:assert/strict";
import {
  childCpuTimesOf,
  cpuTimesOf,
  fieldsAfterName,
  machineContextSwitches,
  machineCpu,
  parseMachineCpu,
  procCpuTimes,
  procCpuTimesSync,
  procStatus,
  statusBytes,
} from "./proc.ts";

Deno.test("procStatus / statusBytes: this process's memory and its main thread's sleeps", async () => {
  const s = await procStatus(Deno.pid);
  const rss = statusBytes(s, "VmRSS");
  assert.ok(rss > 10 * 1024 * 1024, `VmRSS ${rss}`);
  assert.ok(statusBytes(s, "RssAnon") < rss);
  assert.ok(Number.isNaN(statusBytes(s, "NoSuchKey")));
  // In `deno run` (what the benches measure: an actor process) the JS event loop is the main
  // thread: its voluntary switches count the event loop's sleeps. (`deno test` runs tests off
  // the main thread, so the check runs in a child.)
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { procStatus } from ${JSON.stringify(new URL("./proc.ts", import.meta.url).href)};
       const n = async () => Number((await procStatus(Deno.pid)).get("voluntary_ctxt_switches"));
       const before = await n();
       for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
       console.log(JSON.stringify({ before, after: await n() }));`,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(child.success);
  const { before, after } = JSON.parse(new TextDecoder().decode(child.stdout));
  assert.ok(after >= before + 20, `${before} → ${after}: each of 20 sleeps ends in a switch`);
});

Deno.test("machineContextSwitches grows; procCpuTimes counts this process's work", async () => {
  const c0 = await machineContextSwitches();
  const t0 = await procCpuTimes(Deno.pid);
  const end = performance.now() + 60;
  while (performance.now() < end) { /* burn CPU */ }
  for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(await machineContextSwitches() > c0);
  const t1 = await procCpuTimes(Deno.pid);
  assert.ok(t1.user + t1.sys > t0.user + t0.sys, JSON.stringify({ t0, t1 }));
  const self = procCpuTimesSync("self");
  assert.ok(self.user + self.sys >= t1.user + t1.sys, "the same process, read synchronously");
  await assert.rejects(() => procStatus(2 ** 22 + 12345), Deno.errors.NotFound);
});

Deno.test("fieldsAfterName / cpuTimesOf / childCpuTimesOf: a stat line whose name has spaces", () => {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
  // cutime cstime ...
  const f = fieldsAfterName(
    "42 (post gres) (x)) S 1 42 42 0 -1 4194560 10 0 0 0 250 75 1200 30 20",
  );
  assert.equal(f[0], "S");
  assert.deepEqual(cpuTimesOf(f), { user: 2.5, sys: 0.75 });
  assert.deepEqual(childCpuTimesOf(f), { user: 12, sys: 0.3 });
});

Deno.test("parseMachineCpu: busy, idle and steal seconds of the aggregate cpu line", () => {
  const stat =
    "cpu  1000 20 300 5000 40 5 15 60 0 0\ncpu0 500 10 150 2500 20 2 7 30 0 0\nctxt 99\n";
  assert.deepEqual(parseMachineCpu(stat), { busy: 13.4, idle: 50.4, steal: 0.6 });
  // A kernel without the steal column (before 2.6.11) counts none.
  assert.deepEqual(parseMachineCpu("cpu  1 2 3 4 5 6 7\n"), { busy: 0.19, idle: 0.09, steal: 0 });
  assert.throws(() => parseMachineCpu("ctxt 5\n"), /no aggregate cpu line/);
});

Deno.test("machineCpu: busy time grows while this process works", async () => {
  const a = await machineCpu();
  const end = performance.now() + 120;
  while (performance.now() < end) { /* burn CPU */ }
  const b = await machineCpu();
  assert.ok(b.busy > a.busy, JSON.stringify({ a, b }));
  assert.ok(b.busy + b.idle + b.steal >= a.busy + a.idle + a.steal + 0.1, "the clock moved");
});

Deno.test("bench/threads.ts: names processes, sums every thread's growth, new threads from 0", async () => {
  const { diffThreads, processLabel, sampleThreads } = await import("./threads.ts");
  assert.equal(
    processLabel("deno", ["deno", "run", "-A", "actors/main.ts", "archiver"]),
    "deno actors/main.ts archiver",
  );
  assert.equal(
    processLabel("java", ["java", "-cp", "/x/kafka/libs/*", "kafka.Kafka"]),
    "java (Kafka broker)",
  );
  assert.equal(processLabel("postgres", ["postgres: kb kb 127.0.0.1"]), "postgres");
  const t = (
    process: string,
    thread: string,
    voluntary: number,
    involuntary: number,
    cpu: number,
  ) => ({
    process,
    thread,
    voluntary,
    involuntary,
    cpu,
  });
  const a = new Map([["1/1", t("p", "main", 10, 1, 1)], ["1/2", t("p", "w#", 5, 0, 0.5)]]);
  const b = new Map([
    ["1/1", t("p", "main", 30, 3, 1.5)],
    ["1/2", t("p", "w#", 6, 0, 0.5)],
    ["1/3", t("p", "w#", 4, 1, 0.25)], // new since a
  ]);
  assert.deepEqual(diffThreads(a, b, (s) => s.process), [{
    name: "p",
    switches: 28,
    voluntary: 25,
    cpu: 0.75,
  }]);
  assert.deepEqual(
    diffThreads(a, b, (s) => s.thread).map((r) => [r.name, r.switches]),
    [["main", 22], ["w#", 6]],
  );
  const now = sampleThreads();
  const mine = [...now.values()].filter((s) => s.process.startsWith("deno"));
  assert.ok(mine.length > 0 && mine.every((s) => s.voluntary >= 0 && s.cpu >= 0));
});
