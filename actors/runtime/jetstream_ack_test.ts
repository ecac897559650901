/**
 * Reading JetStream acknowledgements: the texts are the ones nats-server sends
 * (nats_publisher_test.ts has them come from the real server).
 */
import assert from "node:assert/strict";
import { ackText, parseAck, plainSuccess } from "./jetstream_ack.ts";

const enc = new TextEncoder();

Deno.test("ackText: short and long payloads read the same", () => {
  const short = '{"stream":"S","seq":1}';
  assert.equal(ackText(enc.encode(short)), short);
  const long = `{"stream":"${"S".repeat(300)}","seq":1}`;
  assert.equal(ackText(enc.encode(long)), long);
  assert.equal(ackText(new Uint8Array(0)), "");
});

Deno.test("plainSuccess: a success's duplicate flag without JSON.parse; anything else undefined", () => {
  assert.equal(plainSuccess('{"stream":"KB_ALERTS_IN","seq":12}'), false);
  assert.equal(plainSuccess('{"stream":"KB_ALERTS_IN","domain":"hub","seq":12}'), false);
  // nats-server writes a duplicate's flag with a space (stream.go), encoders without.
  assert.equal(plainSuccess('{"stream":"KB_ALERTS_IN","seq":12,"duplicate": true}'), true);
  assert.equal(plainSuccess('{"stream":"KB_ALERTS_IN","seq":12,"duplicate":true}'), true);
  assert.equal(
    plainSuccess('{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"}}'),
    undefined,
  );
  assert.equal(plainSuccess('{"stream":"S","error":{"code":503}}'), undefined);
  assert.equal(plainSuccess(""), undefined);
  // Whatever plainSuccess answers, parseAck agrees.
  for (
    const text of [
      '{"stream":"S","seq":3}',
      '{"stream":"S","seq":3,"duplicate":true}',
      '{"stream":"S","seq":3,"duplicate": true}',
      '{"stream":"S","domain":"d","seq":3,"duplicate":true}',
    ]
  ) {
    assert.equal(plainSuccess(text), parseAck(text, "x").duplicate, text);
  }
});

Deno.test("parseAck: acknowledgement, refusal with the server's description and code, garbage", () => {
  assert.deepEqual(parseAck('{"stream":"S","seq":3}', "a.b"), {
    stream: "S",
    seq: 3,
    duplicate: false,
  });
  assert.deepEqual(parseAck('{"stream":"S","seq":3,"duplicate":true}', "a.b"), {
    stream: "S",
    seq: 3,
    duplicate: true,
  });
  assert.throws(
    () =>
      parseAck(
        '{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"}}',
        "a.b",
      ),
    /JetStream refused the publish on a\.b: wrong last sequence: 1 \(code 10071\)/,
  );
  assert.throws(
    () => parseAck('{"error":{"code":503}}', "a.b"),
    /refused the publish on a\.b: \{"code":503\} \(code 503\)/,
  );
  assert.throws(() => parseAck("not json", "a.b"), /unreadable JetStream acknowledgement/);
});
