/**
 * `deno task dlq ls|show|replay`: look at dead letters and replay the ones whose
 * cause has been fixed (see `letters.ts` for what replay guarantees).
 *
 *   deno task dlq ls [--actor A]... [--reason R]...
 *   deno task dlq show SEQ...
 *   deno task dlq replay [--actor A]... [--reason R]... [--seq N]... [--dry-run] [--purge]
 *
 * Connects like the actors (KB_NATS_URL and the NATS credential variables;
 * on the local stack: `eval "$(bash deploy/local/stack.sh env)"`). Replay needs
 * a NATS identity that may publish on the original subjects (the `admin` one).
 *
 * @module
 */
import { fromBase64 } from "../../actors/runtime/base64.ts";
import { parseArgs } from "node:util";
import { DeadLetterReason } from "../../contracts/messages.ts";
import { loadRuntimeConfig } from "../../actors/runtime/config.ts";
import { connectTransport } from "../../actors/runtime/host.ts";
import type { Transport } from "../../actors/runtime/transport.ts";
import {
  countLetters,
  readLetters,
  REPLAYABLE_REASONS,
  replayLetters,
  type ReplayOutcome,
} from "./letters.ts";

const USAGE = `usage:
  deno task dlq ls [--actor A]... [--reason R]...
  deno task dlq show SEQ...
  deno task dlq replay [--actor A]... [--reason R]... [--seq N]... [--dry-run] [--purge]
reasons: ${DeadLetterReason.options.join(", ")}
replay takes only ${REPLAYABLE_REASONS.join(", ")} unless --reason names others`;

function fail(msg: string): never {
  console.error(`dlq: ${msg}\n${USAGE}`);
  Deno.exit(2);
}

/** Runs the command line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      actor: { type: "string", multiple: true },
      reason: { type: "string", multiple: true },
      seq: { type: "string", multiple: true },
      "dry-run": { type: "boolean" },
      purge: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [verb, ...rest] = positionals;
  if (values.help || !verb) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const reasons = values.reason?.map((r) => {
    const p = DeadLetterReason.safeParse(r);
    if (!p.success) fail(`unknown reason "${r}"`);
    return p.data;
  });
  const seqOf = (s: string) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) fail(`"${s}" is not a KB_DLQ sequence number`);
    return n;
  };
  const t: Transport = await connectTransport(loadRuntimeConfig(), "kb-dlq");
  const unreadable = (u: { seq: number; subject: string; error: string }) =>
    console.error(`dlq: KB_DLQ ${u.seq} on ${u.subject} is not a dead letter (${u.error}); kept`);
  try {
    switch (verb) {
      case "ls": {
        const letters = await readLetters(t, { actors: values.actor, reasons }, unreadable);
        const rows = countLetters(letters);
        if (!rows.length) {
          console.log("no dead letters");
          return 0;
        }
        console.log(["actor", "reason", "count", "seqs", "first", "last"].join("\t"));
        for (const r of rows) {
          console.log(
            [r.actor, r.reason, r.count, `${r.firstSeq}..${r.lastSeq}`, r.firstAt, r.lastAt]
              .join("\t"),
          );
        }
        return 0;
      }
      case "show": {
        if (!rest.length) fail("show needs KB_DLQ sequence numbers");
        const letters = await readLetters(t, { seqs: rest.map(seqOf) }, unreadable);
        for (const l of letters) {
          const bytes = fromBase64(l.letter.original.dataBase64);
          let text: string;
          try {
            text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
            if (text.length > 2000) text = `${text.slice(0, 2000)}… (${bytes.byteLength} bytes)`;
          } catch {
            text = `(${bytes.byteLength} bytes, not UTF-8)`;
          }
          console.log(JSON.stringify(
            { seq: l.seq, ...l.letter, original: { ...l.letter.original, dataBase64: undefined } },
            null,
            2,
          ));
          console.log(`payload: ${text}\n`);
        }
        if (letters.length < rest.length) {
          console.error(`dlq: ${rest.length - letters.length} of the sequences are not in KB_DLQ`);
          return 1;
        }
        return 0;
      }
      case "replay": {
        const letters = await readLetters(
          t,
          { actors: values.actor, reasons, seqs: values.seq?.map(seqOf) },
          unreadable,
        );
        const tally: Record<ReplayOutcome["outcome"], number> = {
          stored: 0,
          duplicate: 0,
          skipped: 0,
          failed: 0,
        };
        await replayLetters(t, letters, {
          dryRun: values["dry-run"],
          purge: values.purge,
          reasons: reasons ?? REPLAYABLE_REASONS,
          onOutcome: (o, done, total) => {
            tally[o.outcome]++;
            const what = o.outcome === "stored"
              ? `stored as ${o.stream} ${o.at}${values.purge ? " (letter deleted)" : ""}`
              : o.outcome === "duplicate"
              ? `dropped as a duplicate: the original is inside its stream's duplicate window; ` +
                `replay after ${o.retryAfter}`
              : o.outcome === "skipped"
              ? `skipped: ${o.why}`
              : `FAILED: ${o.error}`;
            console.log(`[${done}/${total}] KB_DLQ ${o.seq}: ${what}`);
          },
        });
        console.log(
          `replayed ${letters.length} letters: ${tally.stored} stored, ${tally.duplicate} ` +
            `inside the duplicate window, ${tally.skipped} skipped, ${tally.failed} failed`,
        );
        return tally.failed ? 1 : 0;
      }
      default:
        fail(`unknown command "${verb}"`);
    }
  } finally {
    await t.close();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
