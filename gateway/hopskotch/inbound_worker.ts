/**
 * The inbound gateway's worker (`KB_HOP_IN_THREADS=2`): a second thread that
 * runs the Kafka side (`inbound_source.ts`: the consumer, judging and encoding
 * every record) while the main thread publishes on JetStream. Encoded chunks
 * come to the main thread with their buffers transferred (no copy); the main
 * thread answers `stored` once JetStream acknowledged every message of a
 * chunk, and only then does this thread mark its offsets done. Logs, state
 * and lag go to the main thread, which owns the logger, `/metrics` and
 * `/readyz`.
 *
 * @module
 */
import type { Logger } from "../../actors/runtime/log.ts";
import { chunkTransfer, type EncodedChunk } from "./inbound_chunk.ts";
import {
  type Source,
  type SourceOptions,
  type SourceState,
  startSource,
} from "./inbound_source.ts";

/** Messages from the main thread to the worker. */
export type ToWorker =
  | { readonly type: "start"; readonly options: SourceOptions }
  | { readonly type: "stored"; readonly id: number }
  | { readonly type: "failed"; readonly id: number; readonly error: string }
  | { readonly type: "stop" };

/** Messages from the worker to the main thread. */
export type FromWorker =
  | { readonly type: "chunk"; readonly id: number; readonly chunk: EncodedChunk }
  | { readonly type: "state"; readonly state: SourceState }
  | { readonly type: "started" }
  | {
    readonly type: "lag";
    readonly topic: string;
    readonly partition: number;
    readonly lag: number;
  }
  | {
    readonly type: "log";
    readonly level: "debug" | "info" | "warn" | "error";
    readonly msg: string;
    readonly fields?: Record<string, unknown>;
  }
  | { readonly type: "stopped" };

interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;
const post = (m: FromWorker, transfer?: Transferable[]) => scope.postMessage(m, transfer);

/** Fields as plain data (errors as their message): what structured clone always takes. */
function plain(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!fields) return undefined;
  return JSON.parse(
    JSON.stringify(
      fields,
      (_k, v) => v instanceof Error ? v.message : typeof v === "bigint" ? String(v) : v,
    ),
  );
}

/** A logger whose lines are written by the main thread's logger. */
function forwardingLogger(base: Record<string, unknown> = {}): Logger {
  const line =
    (level: "debug" | "info" | "warn" | "error") =>
    (msg: string, fields?: Record<string, unknown>) =>
      post({ type: "log", level, msg, fields: plain({ ...base, ...fields }) });
  return {
    debug: line("debug"),
    info: line("info"),
    warn: line("warn"),
    error: line("error"),
    child: (fields) => forwardingLogger({ ...base, ...fields }),
  };
}

let source: Source | undefined;
let next = 0;
const waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

scope.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  switch (m.type) {
    case "start":
      source = startSource(m.options, {
        log: forwardingLogger(),
        store(chunk) {
          const id = next++;
          return new Promise<void>((resolve, reject) => {
            waiting.set(id, { resolve, reject });
            post({ type: "chunk", id, chunk }, chunkTransfer(chunk));
          });
        },
        lag: (topic, partition, lag) => post({ type: "lag", topic, partition, lag }),
        state: (state) => post({ type: "state", state }),
      });
      source.started.then(() => post({ type: "started" }));
      return;
    case "stored":
    case "failed": {
      const w = waiting.get(m.id);
      if (!w) return;
      waiting.delete(m.id);
      if (m.type === "stored") w.resolve();
      else w.reject(new Error(m.error));
      return;
    }
    case "stop":
      (source?.stop() ?? Promise.resolve()).then(() => post({ type: "stopped" }));
      return;
  }
};
