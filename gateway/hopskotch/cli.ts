/**
 * `deno task hop publish|subscribe <hop-url>`: a small hop-client look-alike
 * for people, to inspect Hopskotch and our own topics.
 *
 *   deno task hop publish [-f FORMAT] [-t] [--no-auth] <url> [FILE...]
 *       FILE per message (format: blob, json, voevent, avro, gcntextnotice,
 *       circular, external); without files, one message per line of standard
 *       input (blob or json), as `hop publish`.
 *   deno task hop subscribe [-s START] [-e] [-g GROUP] [-j] [-t] [--no-auth] <url>
 *       START: earliest | latest (default) | timestamp:<ms|ISO> | offsets:<t>:<p>:<o>,...
 *       -e stops at the end of the topics; -j prints each record's decoded
 *       envelope as JSON instead of its raw value; -t includes test messages.
 *
 * Credentials as the gateway: auth.toml (KB_HOP_AUTH or hop's path) or KB_KAFKA_*.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Buffer } from "node:buffer";
import { toBase64, utf8, utf8Strict } from "./bytes.ts";
import { groupIdFor, loadKafkaConfig } from "./config.ts";
import { judgeRecord } from "./envelope.ts";
import { HOP_FORMATS, type HopFormat, normaliseFormat } from "./format.ts";
import { kafkaDriver } from "./kafka.ts";
import { applyStartPosition, parseStartPosition } from "./start.ts";
import { connectHopWriter, type HopRecord } from "./writer.ts";

const USAGE = `usage:
  deno task hop publish [-f FORMAT] [-t] [--no-auth] [--create-topics] <kafka://[user@]host:port/topic> [FILE...]
  deno task hop subscribe [-s START] [-e] [-g GROUP] [-j] [-t] [--no-auth] <kafka://[user@]host:port/topic,...>
FORMAT: ${HOP_FORMATS.join(", ")} (default blob)
START: earliest, latest (default), timestamp:<ms|ISO>, offsets:<topic>:<partition>:<offset>,...`;

/** Parses an RFC 822 GCN circular into hop's {header, body}. */
export function parseCircular(text: string): { header: Record<string, string>; body: string } {
  const norm = text.replaceAll("\r\n", "\n");
  const split = norm.indexOf("\n\n");
  const head = split < 0 ? norm : norm.slice(0, split);
  const body = split < 0 ? "" : norm.slice(split + 2);
  const header: Record<string, string> = {};
  let last: string | undefined;
  for (const line of head.split("\n")) {
    if (/^\s/.test(line) && last) header[last] += "\n" + line.trim();
    else {
      const m = /^([^:]+):\s*(.*)$/.exec(line);
      if (!m) continue;
      last = m[1].trim().toLowerCase();
      header[last] = m[2];
    }
  }
  return { header, body };
}

/** The wire bytes of a file in `format`, as `hop publish` loads it. */
export function loadMessage(format: HopFormat, bytes: Uint8Array): Uint8Array {
  switch (format) {
    case "json":
    case "external":
      return utf8(JSON.stringify(JSON.parse(utf8Strict(bytes))));
    case "circular":
      return utf8(JSON.stringify(parseCircular(utf8Strict(bytes))));
    default:
      return bytes;
  }
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of Deno.stdin.readable) chunks.push(c);
  return new Uint8Array(Buffer.concat(chunks));
}

async function publish(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      format: { type: "string", short: "f", default: "blob" },
      test: { type: "boolean", short: "t", default: false },
      "no-auth": { type: "boolean", default: false },
      "create-topics": { type: "boolean", default: false },
    },
  });
  const [url, ...files] = positionals;
  if (!url) throw new Error(USAGE);
  const format = normaliseFormat(values.format!);
  if (!format) {
    throw new Error(`unknown format "${values.format}": one of ${HOP_FORMATS.join(", ")}`);
  }
  const config = loadKafkaConfig({ url, noAuth: values["no-auth"] });
  if (config.topics.length !== 1) throw new Error(`publish needs exactly one topic in ${url}`);
  const records: HopRecord[] = [];
  if (files.length) {
    for (const f of files) {
      records.push({
        format,
        value: loadMessage(format, await Deno.readFile(f)),
        test: values.test,
      });
    }
  } else {
    if (format !== "blob" && format !== "json") {
      throw new Error(
        "standard input takes blob or json messages (one per line); give files for other formats",
      );
    }
    const lines = new TextDecoder().decode(await readStdin()).split("\n").filter((l) => l.length);
    for (const l of lines) {
      records.push({ format, value: loadMessage(format, utf8(l)), test: values.test });
    }
  }
  const writer = await connectHopWriter(config, {
    allowAutoTopicCreation: values["create-topics"],
  });
  try {
    await writer.publish(config.topics[0], records);
  } finally {
    await writer.close();
  }
  console.error(`published ${records.length} message(s) to ${config.topics[0]}`);
  return 0;
}

async function subscribe(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      "start-at": { type: "string", short: "s", default: "latest" },
      "until-eos": { type: "boolean", short: "e", default: false },
      "group-id": { type: "string", short: "g" },
      json: { type: "boolean", short: "j", default: false },
      test: { type: "boolean", short: "t", default: false },
      "no-auth": { type: "boolean", default: false },
    },
  });
  const [url] = positionals;
  if (!url) throw new Error(USAGE);
  const config = loadKafkaConfig({ url, noAuth: values["no-auth"] });
  if (!config.topics.length) throw new Error(`no topic in ${url}`);
  const rand = Array.from(
    crypto.getRandomValues(new Uint8Array(10)),
    (b) => "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[b % 36],
  ).join("");
  const groupId = groupIdFor(config, values["group-id"], rand);
  const start = parseStartPosition(values["start-at"]!);
  const kafka = kafkaDriver(config);
  const admin = await kafka.admin();
  const existing = new Set(await admin.listTopics());
  const topics = config.topics.filter((t) => existing.has(t));
  for (const t of config.topics.filter((t) => !existing.has(t))) {
    console.error(
      `topic ${t} does not exist (yet)${values["until-eos"] ? "" : "; not waiting for it"}`,
    );
  }
  // End of stream = the high watermarks now.
  const ends = new Map<string, bigint>();
  for (const t of topics) {
    const lows = new Map((await admin.startOffsets(t)).map((p) => [p.partition, p.offset]));
    for (const p of await admin.endOffsets(t)) {
      if (BigInt(p.offset) > BigInt(lows.get(p.partition) ?? "0")) {
        ends.set(`${t}:${p.partition}`, BigInt(p.offset));
      }
    }
  }
  const { fromBeginning } = await applyStartPosition(admin, groupId, topics, start, {
    force: true,
    log: {
      debug() {},
      info() {},
      warn() {},
      error() {},
      child() {
        return this;
      },
    },
  });
  await admin.close();
  if (!topics.length) return 0;
  if (values["until-eos"] && (!ends.size || start.kind === "latest")) return 0;
  const out = Deno.stdout;
  const nl = utf8("\n");
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  const judge = { topicKinds: [], maxRecordBytes: Infinity, includeTest: true };
  const consumer = await kafka.consume({
    groupId,
    topics: topics.map((name) => ({ name, fromBeginning })),
    sessionTimeoutMs: 10_000,
    onFatal: (err) => {
      console.error(`hop subscribe: the Kafka consumer failed: ${(err as Error).message}`);
      done();
    },
    eachBatch: async (batch) => {
      for (const r of batch.records) {
        const { topic, partition } = r;
        const v = judgeRecord(r, judge);
        const isTest = v.action === "publish" ? v.envelope.hop.test : v.action === "skip_test";
        if (!isTest || values.test) {
          if (values.json) {
            // Re-serialised, so a sameAsJson raw would not hold the record's bytes:
            // printed with them as base64 (HopRaw's first form).
            const line = v.action === "publish"
              ? JSON.stringify({
                ...v.envelope,
                raw: { base64: toBase64(r.value ?? new Uint8Array()), size: v.envelope.raw.size },
              })
              : JSON.stringify({ topic, partition, offset: r.offset, undecodable: v });
            await out.write(utf8(line + "\n"));
          } else {
            const raw = r.value ?? new Uint8Array();
            await out.write(raw);
            if (raw[raw.length - 1] !== 0x0a) await out.write(nl);
          }
        }
        const key = `${topic}:${partition}`;
        const end = ends.get(key);
        if (end !== undefined && BigInt(r.offset) + 1n >= end) {
          ends.delete(key);
          if (values["until-eos"] && !ends.size) done();
        }
      }
      if (batch.records.length) await batch.done(batch.records[batch.records.length - 1].offset);
    },
  });
  const stop = () => done();
  Deno.addSignalListener("SIGINT", stop);
  await finished;
  await consumer.stop();
  return 0;
}

if (import.meta.main) {
  const [cmd, ...rest] = Deno.args;
  try {
    if (cmd === "publish") Deno.exit(await publish(rest));
    if (cmd === "subscribe") Deno.exit(await subscribe(rest));
    console.error(USAGE);
    Deno.exit(2);
  } catch (err) {
    console.error(`hop ${cmd}: ${(err as Error).message}`);
    Deno.exit(1);
  }
}
