/**
 * Registers a running actor replica as a NATS micro service, so that
 * `nats micro ls`, `nats micro info <actor>` and `nats micro stats <actor>`
 * show every replica with its endpoint and counters.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm } from "@nats-io/services";
import { SUBJECTS } from "../../contracts/names.ts";

/** What the service shows about its actor. */
export interface MicroInfo {
  readonly actor: string;
  readonly version: string;
  readonly description: string;
  readonly replica: string;
  readonly metadata: Record<string, string>;
  /** Counters shown in the endpoint's `data` by `nats micro stats`. */
  readonly stats: () => Record<string, unknown>;
}

/** A registered service. */
export interface MicroHandle {
  stop(): Promise<void>;
}

/**
 * Registers the replica. The `status` endpoint answers with the live counters;
 * requests are shared among replicas through the service's queue group.
 */
export async function registerMicro(nc: NatsConnection, info: MicroInfo): Promise<MicroHandle> {
  // The services package brings its own copy of nats-core types; the connection is the same object.
  const svcm = new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]);
  const service = await svcm.add({
    name: info.actor,
    version: info.version,
    description: info.description,
    metadata: { replica: info.replica, ...info.metadata },
    statsHandler: () => Promise.resolve(info.stats()),
  });
  const encoder = new TextEncoder();
  service.addEndpoint("status", {
    subject: SUBJECTS.actorStatus(info.actor),
    metadata: { description: "live counters of one replica (JSON)" },
    handler: (err, msg) => {
      if (err) return;
      msg.respond(encoder.encode(JSON.stringify({ replica: info.replica, ...info.stats() })));
    },
  });
  return {
    stop: async () => {
      await service.stop();
    },
  };
}
