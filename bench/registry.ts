/**
 * Every benchmark, by name. `deno task bench` runs them all; `deno task bench
 * <name>...` runs some.
 *
 * @module
 */
import type { Bench } from "./harness.ts";
import { runtimeBench } from "./runtime.ts";
import { gatewayBench } from "./gateway.ts";
import { replayBench } from "./replay.ts";
import { archiveBench } from "./archive.ts";
import { classifierBench } from "./classifier.ts";
import { tomBench } from "./tom.ts";
import { e2eBench } from "./e2e.ts";
import { resultsPublisherBench } from "./results_publisher.ts";
import { dbPoolBench } from "./db_pool.ts";

/** Benchmarks in the order they run. */
export const BENCHES: readonly Bench[] = [
  runtimeBench,
  gatewayBench,
  replayBench,
  archiveBench,
  dbPoolBench,
  classifierBench,
  resultsPublisherBench,
  tomBench,
  e2eBench,
];
