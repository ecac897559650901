/**
 * Progress of a replay: a cli-progress bar (events sent / total, rate, ETA) on a
 * terminal, plain log lines every few seconds otherwise (Kubernetes Jobs, CI).
 * cli-progress is the maintained, dependency-light progress bar of the npm
 * ecosystem; it draws on stderr so stdout stays clean for the dry-run listing.
 *
 * @module
 */
// @ts-types="npm:@types/cli-progress@3.11.6"
import cliProgress from "cli-progress";
import process from "node:process";
import type { Logger } from "../runtime/log.ts";
import { formatOffset } from "./replay.ts";
import type { TimelineEvent } from "./timeline.ts";

/** Reports progress. */
export interface Progress {
  update(sent: number, last: TimelineEvent): void;
  stop(): void;
}

/** A bar on a terminal, log lines otherwise. */
export function createProgress(
  total: number,
  log: Logger,
  options: { tty?: boolean; everyMs?: number } = {},
): Progress {
  const tty = options.tty ?? Deno.stderr.isTerminal();
  if (tty) {
    const bar = new cliProgress.SingleBar({
      format: "replay [{bar}] {value}/{total} | {rate} msg/s | ETA {eta_formatted} | {at} {what}",
      stream: process.stderr,
      hideCursor: true,
    }, cliProgress.Presets.shades_classic);
    const t0 = performance.now();
    bar.start(total, 0, { rate: "0", at: "", what: "" });
    return {
      update(sent, last) {
        const rate = sent / Math.max(0.001, (performance.now() - t0) / 1000);
        bar.update(sent, {
          rate: rate.toFixed(0),
          at: formatOffset(last.t),
          what: last.label.slice(0, 40),
        });
      },
      stop: () => bar.stop(),
    };
  }
  const every = options.everyMs ?? 5000;
  let lastLog = 0;
  const t0 = performance.now();
  return {
    update(sent, last) {
      const now = performance.now();
      if (now - lastLog < every && sent < total) return;
      lastLog = now;
      const rate = sent / Math.max(0.001, (now - t0) / 1000);
      log.info("replay progress", {
        sent,
        total,
        rate: Math.round(rate),
        at: formatOffset(last.t),
        last: last.label,
      });
    },
    stop() {},
  };
}
