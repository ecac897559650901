/**
 * `deno task bench [name...]`: starts the local servers the selected
 * benchmarks need, runs them, prints each table (value, raw ceiling measured in
 * the same run, target) and writes `bench/results/<name>.json` (a run with
 * any `KB_BENCH_*` knob set: `<name>.variant.json`, leaving the default run's
 * file alone).
 *
 * @module
 */
import { benchKnobs, fmt, knobsText, resultFileName } from "./harness.ts";
import { BENCHES } from "./registry.ts";

const ROOT = new URL("../", import.meta.url);

async function startServices(services: string[]): Promise<void> {
  if (!services.length) return;
  const sh = (args: string[]) =>
    new Deno.Command("bash", { args, cwd: ROOT, stdout: "piped", stderr: "inherit" }).output();
  const up = await sh(["deploy/local/stack.sh", "up", ...services]);
  if (!up.success) {
    throw new Error(`could not start ${services.join(", ")}: see the messages above`);
  }
  const env = new TextDecoder().decode(
    (await sh(["deploy/local/stack.sh", "env", ...services])).stdout,
  );
  for (const line of env.split("\n")) {
    const m = line.match(/^export ([A-Z0-9_]+)=(.*)$/);
    if (m) Deno.env.set(m[1], m[2].replace(/^'(.*)'$/, "$1"));
  }
}

if (import.meta.main) {
  const wanted = Deno.args.filter((a) => !a.startsWith("-"));
  const unknown = wanted.filter((w) => !BENCHES.some((b) => b.name === w));
  if (unknown.length) {
    console.error(
      `unknown bench ${unknown.join(", ")}; known: ${BENCHES.map((b) => b.name).join(", ")}`,
    );
    Deno.exit(2);
  }
  const selected = BENCHES.filter((b) => !wanted.length || wanted.includes(b.name));
  await startServices([...new Set(selected.flatMap((b) => b.needs))]);
  await Deno.mkdir(new URL("bench/results/", ROOT), { recursive: true });
  // A run with knobs is kept beside the default runs the docs are drawn from, not over them.
  const knobs = benchKnobs(Deno.env.toObject());
  const variant = knobsText(knobs);
  if (variant) {
    console.log(`a run with ${variant}: results go to bench/results/<name>.variant.json`);
  }
  let failed = 0;
  for (const b of selected) {
    console.log(`\n## ${b.name}: ${b.description}\n`);
    try {
      const result = await b.run();
      console.log("| metric | value | unit | ceiling (same run) | target | met |");
      console.log("|---|---:|---|---:|---|---|");
      for (const r of result.rows) {
        const ceiling = r.ceiling === undefined
          ? ""
          : `${fmt(r.ceiling)} (${r.ceilingSource ?? ""})`;
        const met = r.met === undefined ? "" : r.met ? "yes" : "**no**";
        console.log(
          `| ${r.metric} | ${fmt(r.value)} | ${r.unit} | ${ceiling} | ${
            r.target ?? ""
          } | ${met} |` +
            (r.note ? ` ${r.note}` : ""),
        );
      }
      const file = resultFileName(b.name, variant);
      await Deno.writeTextFile(
        new URL(`bench/results/${file}`, ROOT),
        JSON.stringify(
          {
            bench: b.name,
            at: new Date().toISOString(),
            host: Deno.hostname(),
            ...(variant ? { knobs } : {}),
            ...result,
          },
          null,
          2,
        ) + "\n",
      );
      console.log(
        variant
          ? `\nwrote bench/results/${file} (a run with ${variant}; ` +
            `bench/results/${b.name}.json, the run with the defaults, is left as it was)`
          : `\nwrote bench/results/${file}`,
      );
    } catch (err) {
      failed++;
      console.error(`bench ${b.name} failed: ${(err as Error).stack ?? err}`);
    }
  }
  if (failed) Deno.exit(1);
}
