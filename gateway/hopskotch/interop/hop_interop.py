"""hop-client side of the gateway's interop test (run with the hop venv's python).

  python hop_interop.py publish AUTH_TOML URL VOEVENT_FILE
      writes a JSON message, a Blob and a VOEvent with hop-client's own Producer.
  python hop_interop.py read AUTH_TOML URL
      reads the topic to its end with hop-client and prints one JSON line per
      message: the model class hop decoded, _id, _sender, _format, _test.
"""
import json
import sys
import uuid

from hop import io, models
from hop.auth import load_auth


def credential(auth_path, url):
    from hop.auth import select_matching_auth
    from adc.kafka import parse_kafka_url
    user, brokers, _ = parse_kafka_url(url)
    return select_matching_auth(load_auth(auth_path), brokers[0], user)


def publish(auth_path, url, voevent_file):
    stream = io.Stream(auth=credential(auth_path, url))
    with stream.open(url, "w") as s:
        s.write({"superevent_id": "S170817a", "far": 1e-10})
        s.write(models.Blob(content=b"\x00\x01binary\xff"))
        s.write(models.VOEvent.load_file(voevent_file))
        s.write({"skipped": True}, test=True)
    print("published 4")


def read(auth_path, url):
    stream = io.Stream(auth=credential(auth_path, url), start_at=io.StartPosition.EARLIEST,
                       until_eos=True)
    with stream.open(url, "r", fetch_external=False) as s:
        for message, meta in s.read(metadata=True):
            headers = {k: v for k, v in (meta.headers or [])}
            out = {
                "model": type(message).__name__,
                "id": str(uuid.UUID(bytes=headers["_id"])) if "_id" in headers else None,
                "sender": headers.get("_sender", b"").decode("utf-8"),
                "format": headers.get("_format", b"").decode("utf-8"),
                "test": "_test" in headers,
            }
            if isinstance(message, models.JSONBlob):
                out["content"] = message.content
            elif isinstance(message, models.AvroBlob):
                out["content"] = message.content["superevent_id"]
            elif isinstance(message, models.VOEvent):
                out["content"] = message.ivorn
            elif isinstance(message, models.GCNCircular):
                out["content"] = message.header.get("title")
            elif isinstance(message, models.GCNTextNotice):
                out["content"] = message.fields.get("title")
            elif isinstance(message, models.ExternalMessage):
                out["content"] = message.url
            elif isinstance(message, models.Blob):
                out["content"] = message.content.hex()
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "publish":
        publish(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "read":
        read(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd}")
