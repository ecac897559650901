/**
 * Entry of a TOM serving thread (a Web Worker started by serve_threads.ts):
 * the API and web pages on the shared port, nothing else.
 *
 * @module
 */
import { createLogger } from "../../actors/runtime/log.ts";
import { startTom, type Tom } from "./server.ts";
import type { ThreadReply, ThreadStart } from "./serve_threads.ts";

declare const self: {
  onmessage: ((e: MessageEvent<ThreadStart | { type: "stop" }>) => void) | null;
  postMessage(msg: ThreadReply): void;
};

let tom: Tom | undefined;
self.onmessage = async (e) => {
  const msg = e.data;
  if (msg.type === "start") {
    try {
      tom = await startTom(msg.config, msg.runtime, {
        log: createLogger({
          level: msg.runtime.KB_LOG_LEVEL,
          fields: { app: "tom", thread: msg.index },
        }),
        reusePort: true,
        listCacheGeneration: msg.listCacheGeneration,
        serveOnly: { listCacheLive: msg.listCacheLive },
      });
      self.postMessage({ type: "ready" });
    } catch (err) {
      self.postMessage({ type: "failed", message: (err as Error).message });
    }
  } else if (msg.type === "stop") {
    await tom?.stop();
    self.postMessage({ type: "stopped" });
  }
};
