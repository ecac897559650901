/**
 * A fast encoder for optical candidate alerts: each measurement is Avro-encoded
 * once per object and the alert body is assembled from those bytes (an alert
 * repeats up to 30 days of history, so re-encoding it every time dominated the
 * generator's cost). The output is byte-identical to avsc encoding the whole
 * `kb.optical.v1.Alert` record (checked in `fast_optical_test.ts`).
 *
 * @module
 */
import type avro from "avsc";
import type { OpticalCandidate } from "../../contracts/mod.ts";
import type { AvroContainerWriter } from "./avro.ts";

const enc = new TextEncoder();

function zigzag(n: number, out: number[]): void {
  let v = n >= 0 ? n * 2 : -n * 2 - 1;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

function stringBytes(s: string): Uint8Array {
  const b = enc.encode(s);
  const head: number[] = [];
  zigzag(b.length, head);
  const out = new Uint8Array(head.length + b.length);
  out.set(head, 0);
  out.set(b, head.length);
  return out;
}

/** Encodes alerts of one object from pre-encoded measurements. */
export class FastOpticalEncoder {
  readonly #candidate: avro.Type;
  readonly #header: Uint8Array;
  readonly #sync: Uint8Array;

  constructor(writer: AvroContainerWriter) {
    const t = writer.type as unknown as { field(name: string): { type: avro.Type } };
    this.#candidate = t.field("candidate").type;
    const container = writer.encode({
      schemavsn: "",
      publisher: "",
      alert_id: "",
      object_id: "",
      survey: "",
      candidate: {
        candid: 0,
        mjd: 0,
        ra: 0,
        dec: 0,
        band: "g",
        mag: null,
        mag_err: null,
        limiting_mag: null,
        upper_limit: false,
        mag_system: null,
        instrument: "",
        reference: null,
      },
      prv_candidates: null,
    });
    // Container = header (magic, metadata, sync) + block(count, size, body) + sync.
    this.#sync = container.subarray(container.length - 16);
    let end = 4;
    // Find the header's end: the first occurrence of the sync marker.
    for (; end < container.length - 16; end++) {
      let ok = true;
      for (let k = 0; k < 16 && ok; k++) ok = container[end + k] === this.#sync[k];
      if (ok) break;
    }
    this.#header = container.slice(0, end + 16);
  }

  /** Avro bytes of one measurement (encode once, reuse in every later alert's history). */
  measurement(c: OpticalCandidate): Uint8Array {
    return new Uint8Array(this.#candidate.toBuffer(c));
  }

  /** The container of an alert: fixed strings, the new measurement and the history, all pre-encoded. */
  alert(
    strings: {
      schemavsn: string;
      publisher: string;
      alertId: string;
      objectId: string;
      survey: string;
    },
    candidate: Uint8Array,
    history: readonly Uint8Array[],
  ): Uint8Array {
    const parts: Uint8Array[] = [
      stringBytes(strings.schemavsn),
      stringBytes(strings.publisher),
      stringBytes(strings.alertId),
      stringBytes(strings.objectId),
      stringBytes(strings.survey),
      candidate,
    ];
    const tail: number[] = [];
    if (history.length) {
      zigzag(1, tail);
      zigzag(history.length, tail);
      parts.push(Uint8Array.from(tail), ...history, Uint8Array.of(0));
    } else {
      zigzag(0, tail);
      parts.push(Uint8Array.from(tail));
    }
    let bodyLen = 0;
    for (const p of parts) bodyLen += p.length;
    const block: number[] = [];
    zigzag(1, block);
    zigzag(bodyLen, block);
    const out = new Uint8Array(this.#header.length + block.length + bodyLen + 16);
    let at = 0;
    out.set(this.#header, at);
    at += this.#header.length;
    out.set(block, at);
    at += block.length;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    out.set(this.#sync, at);
    return out;
  }
}
