/**
 * The echo actor: answers each ping with a pong naming the replica that
 * handled it. It is the runtime's demonstration and test actor: pings can ask
 * for simulated waiting (`workMs`), CPU-bound work (`cpuMs`, what the scale test
 * uses so replicas scale on CPU) and for failures (`failTimes`).
 *
 * @module
 */
import process from "node:process";
import { CHANNELS } from "../../contracts/messages.ts";
import { defineActor, emit } from "../runtime/actor.ts";

/** The echo actor. */
export const echoActor = defineActor({
  name: "echo",
  description: "answers demo.ping with demo.pong",
  version: "1.0.0",
  input: CHANNELS.demoPing,
  outputs: [CHANNELS.demoPong],
  async handler(msg, ctx) {
    if (msg.data.workMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, msg.data.workMs));
    }
    if (msg.data.cpuMs > 0) burnCpu(msg.data.cpuMs);
    if (msg.deliveryCount <= msg.data.failTimes) {
      throw new Error(`ping ${msg.data.seq} asked to fail ${msg.data.failTimes} time(s)`);
    }
    return emit(CHANNELS.demoPong, {
      seq: msg.data.seq,
      sentAt: msg.data.sentAt,
      pingId: msg.id,
      replica: ctx.replica,
      attempt: msg.deliveryCount,
      handledAt: Date.now(),
    });
  },
});

/**
 * Simulated CPU-bound work: computes until this process has used `ms`
 * milliseconds of CPU time (not wall time, so replicas sharing too few cores
 * really slow down, as a real classifier would). Returns a value derived from
 * the work so it cannot be optimised away.
 */
export function burnCpu(ms: number): number {
  const start = process.cpuUsage();
  const budgetMicros = ms * 1000;
  let acc = 0;
  for (let round = 0;; round++) {
    for (let i = 1; i <= 2000; i++) acc += Math.sqrt(i * (round + 1));
    const used = process.cpuUsage(start);
    if (used.user + used.system >= budgetMicros) return acc;
  }
}
