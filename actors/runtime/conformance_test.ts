import { conformance } from "./conformance.ts";
import { MemoryTransport } from "./memory_transport.ts";
import { connectTestNats } from "./testing.ts";

conformance({ name: "memory", create: () => Promise.resolve(new MemoryTransport()) });
conformance({ name: "nats", create: () => connectTestNats("kb-conformance") });
