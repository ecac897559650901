import assert from "node:assert/strict";
import {
  allCpus,
  childPids,
  cpusOf,
  otherCpus,
  parentPid,
  parseCpus,
  pin,
  pinCommand,
} from "./placement.ts";

Deno.test("placement: parent and child pids from /proc", async () => {
  const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    assert.equal(await parentPid(child.pid), Deno.pid);
    assert.ok((await childPids(Deno.pid)).includes(child.pid));
  } finally {
    child.kill();
    await child.status;
  }
});

Deno.test("placement: CPU lists for core 0 and the rest", () => {
  assert.deepEqual(parseCpus("0"), [0]);
  assert.deepEqual(parseCpus("0,1"), [0, 1]);
  assert.deepEqual(parseCpus("1-3,0,2"), [0, 1, 2, 3]);
  assert.throws(() => parseCpus("one"), /not a CPU list/);
  const n = navigator.hardwareConcurrency;
  assert.equal(allCpus(), `0-${n - 1}`);
  if (n === 2) assert.equal(otherCpus(), "1");
  if (n > 2) assert.equal(otherCpus(), `1-${n - 1}`);
});

Deno.test("placement: pin moves every thread of a process, and back; an ended one is skipped", async () => {
  const taskset = await pinCommand();
  if (!taskset) {
    // One core or no util-linux: the bench then measures the shared placement only.
    assert.ok(
      navigator.hardwareConcurrency < 2 || !(await Deno.stat("/usr/bin/taskset").catch(() => null)),
    );
    return;
  }
  const child = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    await pin(taskset, [child.pid], "0");
    assert.deepEqual(await cpusOf(taskset, child.pid), [0]);
    await pin(taskset, [child.pid], otherCpus());
    assert.deepEqual(await cpusOf(taskset, child.pid), parseCpus(otherCpus()));
    await pin(taskset, [child.pid], allCpus());
    assert.equal((await cpusOf(taskset, child.pid)).length, navigator.hardwareConcurrency);
  } finally {
    child.kill();
    await child.status;
  }
  await pin(taskset, [child.pid], "0"); // ended: no error
  await assert.rejects(pin(taskset, [Deno.pid], "99"), /could not place process/);
});
