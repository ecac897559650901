/**
 * Least-privilege NATS permissions of every identity, derived from the actor
 * definitions (`actors/registry.ts`, the TOM's actors) and the subjects and
 * streams of `contracts/names.ts` — never written by hand. `render.ts` turns
 * them into nats-server configuration (local stack, Helm chart).
 *
 * What an identity gets, and why:
 *
 * | grant                                                 | for                                          |
 * |-------------------------------------------------------|----------------------------------------------|
 * | pub `$JS.API.INFO`                                    | nats.js' JetStream check at connect          |
 * | pub `$JS.API.STREAM.{INFO,CREATE,UPDATE}.<stream>`    | declaring the streams it reads or writes     |
 * | pub `$JS.API.CONSUMER.{INFO,CREATE,...}.<s>.<durable>`| declaring and pulling its own durable only   |
 * | pub `$JS.ACK.<stream>.<durable>.>`                    | acknowledging its own deliveries             |
 * | pub output subjects, `dlq.<actor>`                    | its outputs and dead letters                 |
 * | sub `_INBOX_<identity>.>`                             | replies to it (nobody else's)                |
 * | sub `$SRV.*`, `$SRV.*.<actor>[.>]`, status subject    | its NATS micro service; replies via          |
 * |                                                       | `allow_responses`                            |
 *
 * Nothing else: no `>` wildcards, no other consumer, no other inbox.
 *
 * @module
 */
import type { ActorDefinition } from "../../actors/runtime/actor.ts";
import { ACTORS } from "../../actors/registry.ts";
import { consumerSpecOf, streamOf } from "../../actors/runtime/runner.ts";
import { runtimeConfig } from "../../actors/runtime/config.ts";
import { OBSERVATION_SUBJECTS, STREAMS, type StreamSpec, SUBJECTS } from "../../contracts/names.ts";
import { tomBrokerActor } from "../../gateway/tom/broker/actor.ts";
import { tomObservationsActor } from "../../gateway/tom/facilities/status_actor.ts";
import { INBOUND_NAME } from "../../gateway/hopskotch/inbound.ts";
import type { Sql } from "../../db/mod.ts";
import {
  ADMIN_IDENTITY,
  INBOUND_IDENTITY,
  inboxPrefix,
  MONITOR_IDENTITY,
  OBSERVATORY_IDENTITY,
  REPLAY_IDENTITY,
  TOM_IDENTITY,
} from "./identities.ts";

/** Publish and subscribe allow-lists of one identity. */
export interface NatsPermissions {
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** May answer requests it received (micro services). */
  readonly allowResponses: boolean;
}

/** One identity: who connects, in which account, allowed what. */
export interface NatsIdentity {
  readonly name: string;
  readonly description: string;
  /** `broker` (the global account `$G`, holding the streams) or `system` (`SYS`, monitoring). */
  readonly account: "broker" | "system";
  /** Allow-lists; `undefined` = everything in its account (admin, monitor). */
  readonly permissions?: NatsPermissions;
  /** Where its replies arrive (nats.js `inboxPrefix`); `undefined` = the default `_INBOX`. */
  readonly inboxPrefix?: string;
}

/** JetStream API subjects (NATS' own API, not the pipeline's subjects). */
export const JS_API = {
  info: "$JS.API.INFO",
  stream: (op: "INFO" | "CREATE" | "UPDATE", stream: string): string =>
    `$JS.API.STREAM.${op}.${stream}`,
  consumer: (op: "INFO" | "CREATE" | "DURABLE.CREATE" | "MSG.NEXT", s: string, d: string) =>
    `$JS.API.CONSUMER.${op}.${s}.${d}`,
  /** nats.js names the filter subject after the consumer on create/update. */
  consumerCreateFiltered: (s: string, d: string): string => `$JS.API.CONSUMER.CREATE.${s}.${d}.>`,
  ack: (s: string, d: string): string => `$JS.ACK.${s}.${d}.>`,
} as const;

/** Micro-service subjects of `@nats-io/services` for a service named `name`. */
export function microSubjects(name: string): string[] {
  return ["$SRV.*", `$SRV.*.${name}`, `$SRV.*.${name}.>`];
}

class Grants {
  readonly pub = new Set<string>();
  readonly sub = new Set<string>();
  responses = false;
  constructor(identity: string) {
    this.pub.add(JS_API.info);
    this.sub.add(`${inboxPrefix(identity)}.>`);
  }
  streams(specs: Iterable<StreamSpec>): this {
    for (const s of specs) {
      for (const op of ["INFO", "CREATE", "UPDATE"] as const) {
        this.pub.add(JS_API.stream(op, s.name));
      }
    }
    return this;
  }
  publish(...subjects: string[]): this {
    for (const s of subjects) this.pub.add(s);
    return this;
  }
  actor(def: ActorDefinition): this {
    const spec = consumerSpecOf(def, runtimeConfig());
    this.streams([
      streamOf(def.input.subject),
      STREAMS.deadLetters,
      ...def.outputs.map((c) => streamOf(c.subject)),
    ]);
    for (const op of ["INFO", "CREATE", "DURABLE.CREATE", "MSG.NEXT"] as const) {
      this.pub.add(JS_API.consumer(op, spec.stream, spec.durable));
    }
    this.pub.add(JS_API.consumerCreateFiltered(spec.stream, spec.durable));
    this.pub.add(JS_API.ack(spec.stream, spec.durable));
    this.publish(...def.outputs.map((c) => c.subject), SUBJECTS.deadLetter(def.name));
    for (const s of microSubjects(def.name)) this.sub.add(s);
    this.sub.add(SUBJECTS.actorStatus(def.name));
    this.responses = true;
    return this;
  }
  build(): NatsPermissions {
    return {
      publish: [...this.pub].sort(),
      subscribe: [...this.sub].sort(),
      allowResponses: this.responses,
    };
  }
}

function restricted(name: string, description: string, g: Grants): NatsIdentity {
  return {
    name,
    description,
    account: "broker",
    permissions: g.build(),
    inboxPrefix: inboxPrefix(name),
  };
}

// The TOM's actors are factories over a database handle; their definitions
// (name, input, outputs) do not touch it.
const NO_SQL = undefined as unknown as Sql;

/** The TOM process's actors, for their permissions. */
export function tomActors(): ActorDefinition[] {
  return [
    tomBrokerActor(NO_SQL) as unknown as ActorDefinition,
    tomObservationsActor(NO_SQL) as unknown as ActorDefinition,
  ];
}

/**
 * Every identity of the deployment with its permissions, in a stable order:
 * admin, monitor, one per registered actor, then the gateways, the TOM, the
 * replay and the observatory.
 */
export function natsIdentities(actors: Record<string, ActorDefinition> = ACTORS): NatsIdentity[] {
  const out: NatsIdentity[] = [
    {
      name: ADMIN_IDENTITY,
      description: "operators and test harnesses: everything in the broker account",
      account: "broker",
    },
    {
      name: MONITOR_IDENTITY,
      description: "monitoring: the NATS system account (server and JetStream reports)",
      account: "system",
    },
  ];
  for (const name of Object.keys(actors).sort()) {
    const def = actors[name];
    out.push(restricted(name, `actor ${name}: ${def.description}`, new Grants(name).actor(def)));
  }
  out.push(restricted(
    INBOUND_IDENTITY,
    "Hopskotch inbound gateway: Kafka records onto alerts.in.<kind>",
    new Grants(INBOUND_IDENTITY)
      .streams([STREAMS.alertsIn, STREAMS.deadLetters])
      .publish(SUBJECTS.alertsInAll, SUBJECTS.deadLetter(INBOUND_NAME)),
  ));
  const tom = new Grants(TOM_IDENTITY);
  for (const def of tomActors()) tom.actor(def);
  out.push(restricted(TOM_IDENTITY, "TOM: broker module and observation-status actors", tom));
  out.push(restricted(
    REPLAY_IDENTITY,
    "source publisher (replay) straight onto alerts.in.<kind>",
    new Grants(REPLAY_IDENTITY).streams([STREAMS.alertsIn]).publish(SUBJECTS.alertsInAll),
  ));
  out.push(restricted(
    OBSERVATORY_IDENTITY,
    "simulated observatory: request status events and follow-up photometry",
    new Grants(OBSERVATORY_IDENTITY)
      .streams([STREAMS.observations, STREAMS.alertsIn])
      .publish(OBSERVATION_SUBJECTS.statusAll, SUBJECTS.alertsInAll),
  ));
  const names = out.map((i) => i.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new Error(`two NATS identities are named "${dup}": rename an actor`);
  return out;
}
