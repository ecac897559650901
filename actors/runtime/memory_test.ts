import assert from "node:assert/strict";
import { memoryNow } from "./memory.ts";

Deno.test("memoryNow: this process's resident and private memory, private the smaller", () => {
  const before = memoryNow();
  assert.ok(before.rssMiB > 10, `rss ${before.rssMiB} MiB`);
  assert.ok(before.privateMiB !== undefined && before.privateMiB > 1);
  assert.ok(before.privateMiB! < before.rssMiB);
  // 64 MiB touched shows up in both.
  const block = new Uint8Array(64 * 1024 * 1024).fill(1);
  const after = memoryNow();
  assert.ok(after.privateMiB! - before.privateMiB! > 50, JSON.stringify({ before, after }));
  assert.ok(after.rssMiB - before.rssMiB > 50);
  assert.equal(block[block.length - 1], 1);
});
