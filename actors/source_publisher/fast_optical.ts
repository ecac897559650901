/**
 * A fast encoder for optical candidate alerts: each measurement is Avro-encoded
 * once per object into one contiguous buffer (an object's "arena"), and the
 * alert container is written in one pass from the pre-encoded header, strings,
 * the new measurement and its history — a single copy of a contiguous range of
 * the arena, since the history is a run of consecutive observations. An alert
 * repeats up to 30 days of history, so re-encoding it every time dominated the
 * generator's cost. The output is byte-identical to avsc encoding the whole
 * `kb.optical.v1.Alert` record (checked in `synthetic/generator_test.ts`).
 *
 * @module
 */
import type avro from "avsc";
import { Buffer } from "node:buffer";
import type { OpticalCandidate } from "../../contracts/mod.ts";
import type { AvroContainerWriter } from "./avro.ts";

const enc = new TextEncoder();
const SLAB_BYTES = 1024 * 1024;

/** Bytes of Avro's zig-zag varint of `n` (a non-negative safe integer here). */
function varintLength(n: number): number {
  let v = n * 2;
  let len = 1;
  while (v > 0x7f) {
    v = Math.floor(v / 128);
    len++;
  }
  return len;
}

/** Writes the zig-zag varint of `n` (n ≥ 0) at `at`; returns the position after it. */
function writeVarint(n: number, out: Uint8Array, at: number): number {
  let v = n * 2;
  while (v > 0x7f) {
    out[at++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[at++] = v;
  return at;
}

/** Avro `string` bytes (length varint + UTF-8). */
export function avroString(s: string): Uint8Array {
  const b = enc.encode(s);
  const out = new Uint8Array(varintLength(b.length) + b.length);
  out.set(b, writeVarint(b.length, out, 0));
  return out;
}

/** True when every UTF-16 unit of `s` is ASCII (its UTF-8 bytes are its char codes). */
function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * The Avro bytes of consecutive measurements of one object: `bytes` holds the
 * encodings of observations `from` … `to - 1` back to back, observation `j`
 * at `offsets[j - from]` … `offsets[j - from + 1]`.
 */
export interface MeasurementArena {
  readonly from: number;
  readonly to: number;
  readonly bytes: Uint8Array;
  readonly offsets: Int32Array;
}

/** Encodes alerts of one object from pre-encoded measurements. */
export class FastOpticalEncoder {
  readonly #candidate: avro.Type;
  readonly #header: Uint8Array;
  readonly #sync: Uint8Array;
  readonly #strings = new Map<string, Uint8Array>();
  #scratch = Buffer.alloc(64 * 1024);
  #slab = new Uint8Array(0);
  #slabUsed = 0;

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

  /** Encodes measurements `from` … `to - 1` (from `measure(j)`) into one arena. */
  arena(from: number, to: number, measure: (j: number) => OpticalCandidate): MeasurementArena {
    const offsets = new Int32Array(to - from + 1);
    let buf = this.#scratch;
    let at = 0;
    for (let j = from; j < to; j++) {
      const m = measure(j);
      let next = this.#candidate.encode(m, buf, at);
      while (next < 0) {
        // avsc returns minus the bytes missing: grow and encode this one again.
        const grown = Buffer.alloc(Math.max(buf.length * 2, at - next));
        grown.set(buf.subarray(0, at));
        buf = this.#scratch = grown;
        next = this.#candidate.encode(m, buf, at);
      }
      at = next;
      offsets[j - from + 1] = at;
    }
    return { from, to, bytes: this.#take(buf, at), offsets };
  }

  /**
   * `length` bytes, a view into a shared slab: one allocation per ~1 MB instead
   * of one per alert (the typed-array allocations dominated, as Node's Buffer
   * pool avoids them). Copies `from[0 … length)` into it when given.
   */
  #take(from: Uint8Array | undefined, length: number): Uint8Array {
    if (this.#slabUsed + length > this.#slab.length) {
      if (length > SLAB_BYTES / 4) {
        const own = new Uint8Array(length);
        if (from) own.set(new Uint8Array(from.buffer, from.byteOffset, length));
        return own;
      }
      this.#slab = new Uint8Array(SLAB_BYTES);
      this.#slabUsed = 0;
    }
    const view = this.#slab.subarray(this.#slabUsed, this.#slabUsed + length);
    // Keep views 8-byte aligned, like Node's pool.
    this.#slabUsed += (length + 7) & ~7;
    if (from) view.set(new Uint8Array(from.buffer, from.byteOffset, length));
    return view;
  }

  /** The Avro `string` bytes of a string used in many alerts (cached). */
  constantString(s: string): Uint8Array {
    let b = this.#strings.get(s);
    if (!b) {
      if (this.#strings.size > 1024) this.#strings.clear();
      this.#strings.set(s, b = avroString(s));
    }
    return b;
  }

  /**
   * The container of the alert of observation `k` with history `first` … `k - 1`,
   * all measurements taken from `arena` (which must hold `first` … `k`).
   * `strings` are pre-encoded Avro strings except `alertId`.
   */
  alertFromArena(
    strings: {
      schemavsn: Uint8Array;
      publisher: Uint8Array;
      alertId: string;
      objectId: Uint8Array;
      survey: Uint8Array;
    },
    arena: MeasurementArena,
    first: number,
    k: number,
  ): Uint8Array {
    const off = arena.offsets;
    const candStart = off[k - arena.from];
    const candEnd = off[k - arena.from + 1];
    const histStart = off[first - arena.from];
    const histEnd = candStart;
    const history = k - first;
    const ascii = isAscii(strings.alertId);
    const idBytes = ascii ? undefined : enc.encode(strings.alertId);
    const idLen = idBytes ? idBytes.length : strings.alertId.length;
    let bodyLen = strings.schemavsn.length + strings.publisher.length +
      varintLength(idLen) + idLen + strings.objectId.length + strings.survey.length +
      (candEnd - candStart);
    if (history) {
      // union branch 1 (array), one block of `history` items, end of array
      bodyLen += varintLength(1) + varintLength(history) + (histEnd - histStart) + 1;
    } else bodyLen += varintLength(0);
    const header = this.#header;
    const out = this.#take(
      undefined,
      header.length + varintLength(1) + varintLength(bodyLen) + bodyLen + 16,
    );
    out.set(header, 0);
    let at = header.length;
    at = writeVarint(1, out, at);
    at = writeVarint(bodyLen, out, at);
    out.set(strings.schemavsn, at);
    at += strings.schemavsn.length;
    out.set(strings.publisher, at);
    at += strings.publisher.length;
    at = writeVarint(idLen, out, at);
    if (idBytes) {
      out.set(idBytes, at);
      at += idLen;
    } else {
      const s = strings.alertId;
      for (let i = 0; i < idLen; i++) out[at++] = s.charCodeAt(i);
    }
    out.set(strings.objectId, at);
    at += strings.objectId.length;
    out.set(strings.survey, at);
    at += strings.survey.length;
    const bytes = arena.bytes;
    out.set(bytes.subarray(candStart, candEnd), at);
    at += candEnd - candStart;
    if (history) {
      at = writeVarint(1, out, at);
      at = writeVarint(history, out, at);
      out.set(bytes.subarray(histStart, histEnd), at);
      at += histEnd - histStart;
      out[at++] = 0;
    } else {
      at = writeVarint(0, out, at);
    }
    out.set(this.#sync, at);
    return out;
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
    let histLen = 0;
    for (const h of history) histLen += h.length;
    const bytes = new Uint8Array(candidate.length + histLen);
    const offsets = new Int32Array(history.length + 2);
    let at = 0;
    history.forEach((h, j) => {
      bytes.set(h, at);
      at += h.length;
      offsets[j + 1] = at;
    });
    bytes.set(candidate, at);
    offsets[history.length + 1] = at + candidate.length;
    return this.alertFromArena(
      {
        schemavsn: this.constantString(strings.schemavsn),
        publisher: this.constantString(strings.publisher),
        alertId: strings.alertId,
        objectId: avroString(strings.objectId),
        survey: this.constantString(strings.survey),
      },
      { from: 0, to: history.length + 1, bytes, offsets },
      0,
      history.length,
    );
  }
}
