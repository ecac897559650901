/**
 * The echo actor: answers each ping with a pong naming the replica that
 * handled it. It is the runtime's demonstration and test actor: pings can ask
 * for simulated work (`workMs`) and for failures (`failTimes`).
 *
 * @module
 */
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
